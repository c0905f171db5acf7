"""Self-update on the agent side: the supervisor behind ``breeze-agent run`` and staging.

The supervisor is run for real (``python -m breeze_agent.cli run``) over stand-in agent
versions: tiny ``breeze_agent`` packages generated in ``<home>/versions/<v>/`` whose
``cli`` logs what happens to it and behaves as ``behave.json`` says (exit with a code, stage
an update, confirm a trial, hang). They speak the on-disk protocol documented in
``breeze_agent.update`` on their own, so these tests also pin that cross-version contract.
Staging (``handle_update``) downloads from a small real HTTP server on loopback.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from breeze_agent import __version__, update
from breeze_agent.config import AgentFileConfig, save_config
from breeze_agent.transport import Gateway
from breeze_protocol import CommandEnvelope

FAKE_CLI = r"""
import json, os, signal, sys, time
from pathlib import Path

VERSION = {version!r}
home = Path(os.environ["BREEZE_AGENT_HOME"])


def note(text):
    with (home / "runs.log").open("a") as fh:
        fh.write(text + "\n")


def on_stop(signum, frame):
    note("stop " + VERSION)
    sys.exit(0)


signal.signal(signal.SIGTERM, on_stop)
signal.signal(signal.SIGINT, on_stop)
signal.signal(signal.SIGUSR1, lambda s, f: note("usr1 " + VERSION))
note("start " + VERSION)
kind, _, arg = json.loads((home / "behave.json").read_text()).get(VERSION, "hang").partition(":")
pending_file = home / "pending.json"
if kind == "exit":
    sys.exit(int(arg))
if kind == "stage" and not pending_file.exists():
    pending = {{"command_id": "cmd-1", "from_version": VERSION, "to_version": arg,
               "state": "staged"}}
    pending_file.write_text(json.dumps(pending))
    sys.exit({exit_update})
while True:
    if kind == "confirm" and pending_file.exists():
        pending = json.loads(pending_file.read_text())
        if pending["state"] == "trial" and pending["to_version"] == VERSION:
            confirm = {{"command_id": pending["command_id"], "version": VERSION}}
            (home / "confirm.json").write_text(json.dumps(confirm))
    time.sleep(0.05)
"""


class Home:
    """An agent config and its update home, with stand-in versions."""

    def __init__(self, root: Path) -> None:
        self.config = root / "agent.json"
        save_config(
            self.config,
            AgentFileConfig(
                server_url="http://127.0.0.1:9",
                agent_id="agt_update01",
                device_id="00000000-0000-4000-8000-0000000000ab",
                auth_token="brz_agt_unused",
            ),
        )
        self.path = update.agent_home(self.config)
        self.path.mkdir(parents=True)

    def version(self, version: str, *, broken: bool = False) -> Path:
        pkg = update.versions_dir(self.path) / version / "breeze_agent"
        pkg.mkdir(parents=True)
        init = f"__version__ = {version!r}\n"
        if broken:
            init += "raise RuntimeError('this release is broken')\n"
        (pkg / "__init__.py").write_text(init)
        cli = FAKE_CLI.format(version=version, exit_update=update.EXIT_UPDATE)
        (pkg / "cli.py").write_text(cli)
        return pkg.parent

    def behave(self, modes: dict[str, str] | None = None) -> None:
        (self.path / "behave.json").write_text(json.dumps(modes or {}))

    def activate(self, version: str, previous: str | None = None) -> None:
        state = update.UpdateState(active=version, base=__version__, previous=previous)
        update.save_state(self.path, state)

    def runs(self) -> list[str]:
        log = self.path / "runs.log"
        return log.read_text().splitlines() if log.exists() else []

    def wait_for(self, line: str, timeout: float = 15.0) -> None:
        wait(lambda: line in self.runs(), timeout, f"{line!r} in {self.runs()}")

    def supervisor(self, **env: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "breeze_agent.cli", "run", "--config", str(self.config)],
            env={**_clean_env(), **env},
            stderr=subprocess.PIPE,
            text=True,
        )


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("BREEZE_")}


def wait(probe: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def finish(proc: subprocess.Popen[str], timeout: float = 20.0) -> tuple[int, str]:
    try:
        _, stderr = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, stderr


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home(tmp_path)


# -- the supervisor -------------------------------------------------------------------------


def test_home_is_beside_the_config_unless_told(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.delenv(update.ENV_HOME, raising=False)
    assert update.agent_home(tmp_path / "agent.json") == tmp_path.resolve() / "agent.updates"
    assert update.agent_home(Path("/etc/breeze-agent/agent.json")) == update.ROOT_HOME
    monkeypatch.setenv(update.ENV_HOME, str(tmp_path / "elsewhere"))
    assert update.agent_home(tmp_path / "agent.json") == tmp_path.resolve() / "elsewhere"


def test_home_is_the_install_prefix_when_run_from_the_install_scripts_venv(
    tmp_path: Path,
) -> None:
    prefix = tmp_path / "opt-breeze-agent"
    prefix.mkdir()
    (prefix / ".breeze-agent").write_text("config=/etc/breeze-agent/agent.json\n")
    venv = prefix / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    code = "import sys; from pathlib import Path; from breeze_agent.update import agent_home; "
    code += "print(agent_home(Path('/etc/breeze-agent/agent.json')))"
    here = os.pathsep.join(p for p in sys.path if p)  # this checkout and its dependencies
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", code],
        env={**_clean_env(), "PYTHONPATH": here},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(prefix.resolve())


@pytest.mark.parametrize("code", [0, 1, 3, 4])
def test_exit_codes_pass_through(home: Home, code: int) -> None:
    home.version("1.0")
    home.activate("1.0")
    home.behave({"1.0": f"exit:{code}"})
    status, stderr = finish(home.supervisor())
    assert status == code, stderr
    assert home.runs() == ["start 1.0"]


def test_signals_are_forwarded(home: Home) -> None:
    home.version("1.0")
    home.activate("1.0")
    home.behave()
    proc = home.supervisor()
    home.wait_for("start 1.0")
    proc.send_signal(signal.SIGUSR1)
    home.wait_for("usr1 1.0")
    proc.send_signal(signal.SIGTERM)
    status, stderr = finish(proc)
    assert status == 0, stderr
    assert home.runs() == ["start 1.0", "usr1 1.0", "stop 1.0"]


def test_installed_version_wins_over_an_activation_based_on_another(home: Home) -> None:
    home.version("1.0")
    update.save_state(home.path, update.UpdateState(active="1.0", base="0.0.1-older"))
    from breeze_agent.supervisor import Supervisor

    assert Supervisor(home.config, [], home=home.path).active_version() is None
    home.activate("1.0")
    assert Supervisor(home.config, [], home=home.path).active_version() == "1.0"


def test_restarts_into_a_confirmed_version_and_keeps_it(home: Home) -> None:
    home.version("0.9")  # older than the previous one: pruned on success
    home.version("1.0")
    home.version("2.0")
    home.activate("1.0", previous="0.9")
    home.behave({"1.0": "stage:2.0", "2.0": "confirm"})
    proc = home.supervisor(**{update.ENV_CONFIRM_SECONDS: "10"})
    wait(lambda: _state_of(home) == "confirmed", 15, "2.0 confirmed")  # written last
    assert update.load_state(home.path).active == "2.0"
    pending = update.load_pending(home.path)
    assert pending is not None
    assert pending.from_version == "1.0" and pending.to_version == "2.0"
    assert sorted(p.name for p in update.versions_dir(home.path).iterdir()) == ["1.0", "2.0"]
    assert update.load_state(home.path).previous == "1.0"
    proc.send_signal(signal.SIGTERM)
    status, stderr = finish(proc)
    assert status == 0, stderr
    assert home.runs() == ["start 1.0", "start 2.0", "stop 2.0"]

    again = home.supervisor()  # a later start runs the new version straight away
    wait(lambda: home.runs().count("start 2.0") == 2, 15, "2.0 started again")
    again.send_signal(signal.SIGTERM)
    assert finish(again)[0] == 0
    assert home.runs()[-2:] == ["start 2.0", "stop 2.0"]


def test_rolls_back_a_version_that_crashes_at_import(home: Home) -> None:
    home.version("1.0")
    home.version("2.0", broken=True)
    home.activate("1.0")
    home.behave({"1.0": "stage:2.0"})
    proc = home.supervisor(**{update.ENV_CONFIRM_SECONDS: "10"})
    wait(lambda: _state_of(home) == "rolled_back", 15, "rollback")
    wait(lambda: home.runs().count("start 1.0") == 2, 15, "1.0 restarted")
    pending = update.load_pending(home.path)
    assert pending is not None and pending.reason == "version 2.0 exited with code 1"
    state = update.load_state(home.path)
    assert state.active == "1.0" and "2.0" in state.bad
    assert not (update.versions_dir(home.path) / "2.0").exists()
    proc.send_signal(signal.SIGTERM)
    status, stderr = finish(proc)
    assert status == 0, stderr
    assert "this release is broken" in stderr and "rolled back" in stderr
    assert home.runs() == ["start 1.0", "start 1.0", "stop 1.0"]


def test_rolls_back_a_version_that_never_confirms(home: Home) -> None:
    home.version("1.0")
    home.version("2.0")
    home.activate("1.0")
    home.behave({"1.0": "stage:2.0", "2.0": "hang"})
    proc = home.supervisor(**{update.ENV_CONFIRM_SECONDS: "1"})
    wait(lambda: _state_of(home) == "rolled_back", 15, "rollback")
    home.wait_for("stop 2.0")
    wait(lambda: home.runs().count("start 1.0") == 2, 15, "1.0 restarted")
    pending = update.load_pending(home.path)
    assert pending is not None and pending.reason == "version 2.0 did not heartbeat within 1 s"
    assert update.load_state(home.path).active == "1.0"
    proc.send_signal(signal.SIGTERM)
    assert finish(proc)[0] == 0


def test_a_trial_interrupted_by_a_stop_runs_again_at_the_next_start(home: Home) -> None:
    home.version("1.0")
    home.version("2.0")
    home.activate("1.0")
    home.behave({"1.0": "stage:2.0", "2.0": "hang"})
    proc = home.supervisor(**{update.ENV_CONFIRM_SECONDS: "30"})
    home.wait_for("start 2.0")
    proc.send_signal(signal.SIGTERM)
    assert finish(proc)[0] == 0
    assert _state_of(home) == "trial"
    home.behave({"2.0": "confirm"})
    again = home.supervisor(**{update.ENV_CONFIRM_SECONDS: "10"})
    wait(lambda: _state_of(home) == "confirmed", 15, "confirmed")
    again.send_signal(signal.SIGTERM)
    assert finish(again)[0] == 0
    assert home.runs() == ["start 1.0", "start 2.0", "stop 2.0", "start 2.0", "stop 2.0"]


def _state_of(home: Home) -> str | None:
    pending = update.load_pending(home.path)
    return pending.state if pending else None


# -- staging --------------------------------------------------------------------------------


def make_wheel(version: str, *, requires: tuple[str, ...] = (), extra: str = "") -> bytes:
    buf = io.BytesIO()
    dist = f"breeze_agent-{version}.dist-info"
    metadata = "\n".join(
        [
            "Metadata-Version: 2.1",
            "Name: breeze-agent",
            f"Version: {version}",
            "Requires-Python: >=3.11",
            *(f"Requires-Dist: {r}" for r in requires),
        ]
    )
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("breeze_agent/__init__.py", f"__version__ = {version!r}\n")
        zf.writestr(f"{dist}/METADATA", metadata + "\n\nA description: Version: 0\n")
        if extra:
            zf.writestr(extra, "x")
    return buf.getvalue()


class Files:
    """A loopback HTTP server answering GET <path> with the bytes put there."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        files = self.files

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                data = files.get(self.path)
                self.send_response(200 if data is not None else 404)
                self.send_header("Content-Length", str(len(data or b"")))
                self.end_headers()
                self.wfile.write(data or b"")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def files() -> Iterator[Files]:
    f = Files()
    yield f
    f.server.shutdown()


def envelope(payload: dict[str, Any]) -> CommandEnvelope:
    now = int(time.time())
    return CommandEnvelope(
        id="cmd-stage-1",
        agent_id="agt_update01",
        type="update_agent",
        payload=payload,
        issued_at=now,
        expires_at=now + 600,
        nonce="n" * 16,
        signature="unused-here",
    )


def offer(files: Files, version: str, data: bytes, **changes: Any) -> dict[str, Any]:
    url = f"/api/v1/agents/releases/breeze_agent-{version}-py3-none-any.whl"
    files.files[url] = data
    return {
        "version": version,
        "url": url,
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
        **changes,
    }


async def _stage(files: Files, home: Home, payload: dict[str, Any], monkeypatch: Any) -> Any:
    monkeypatch.setenv(update.ENV_HOME, str(home.path))
    monkeypatch.setenv(update.ENV_SUPERVISED, "1")
    cfg = AgentFileConfig.model_validate_json(home.config.read_text())
    async with Gateway(files.url, token="brz_agt_unused") as gw:
        return await update.handle_update(gw, cfg, home.config, envelope(payload))


async def test_stages_a_verified_wheel_beside_the_running_version(
    files: Files, home: Home, monkeypatch: Any
) -> None:
    payload = offer(files, "9.1", make_wheel("9.1", requires=("httpx>=0.1",)))
    assert await _stage(files, home, payload, monkeypatch) is None
    staged = update.versions_dir(home.path) / "9.1"
    assert (staged / "breeze_agent" / "__init__.py").read_text() == "__version__ = '9.1'\n"
    pending = update.load_pending(home.path)
    assert pending is not None
    assert (pending.command_id, pending.from_version, pending.to_version, pending.state) == (
        "cmd-stage-1",
        __version__,
        "9.1",
        "staged",
    )


@pytest.mark.parametrize(
    ("wheel", "changes", "error"),
    [
        (make_wheel("9.2"), {"sha256": "0" * 64}, "sha256 mismatch"),
        (make_wheel("9.2"), {"size": 5}, "expected 5"),
        (make_wheel("9.3"), {}, "not a breeze-agent 9.2 wheel"),
        (make_wheel("9.2", extra="../evil.py"), {}, "unsafe path '../evil.py'"),
        (make_wheel("9.2", requires=("no-such-dist-xyz>=1",)), {}, "no-such-dist-xyz>=1"),
        (make_wheel("9.2", requires=("httpx<0.0.1",)), {}, "httpx<0.0.1 (installed:"),
        (b"not a zip", {}, "not a wheel"),
    ],
)
async def test_refuses_a_bad_download_and_stages_nothing(
    files: Files, home: Home, monkeypatch: Any, wheel: bytes, changes: dict[str, Any], error: str
) -> None:
    payload = offer(files, "9.2", wheel, **changes)
    result = await _stage(files, home, payload, monkeypatch)
    assert result is not None and result.status == "failed"
    assert error in (result.error or "")
    assert update.load_pending(home.path) is None
    assert not (update.versions_dir(home.path) / "9.2").exists()


async def test_a_missing_release_and_an_unsupervised_agent_fail_cleanly(
    files: Files, home: Home, monkeypatch: Any
) -> None:
    payload = offer(files, "9.4", make_wheel("9.4"), url="/api/v1/agents/releases/gone.whl")
    result = await _stage(files, home, payload, monkeypatch)
    assert result is not None and "404" in (result.error or "")
    monkeypatch.delenv(update.ENV_SUPERVISED)
    cfg = AgentFileConfig.model_validate_json(home.config.read_text())
    async with Gateway(files.url, token="brz_agt_unused") as gw:
        result = await update.handle_update(gw, cfg, home.config, envelope(payload))
    assert result is not None and "does not run under its supervisor" in (result.error or "")
