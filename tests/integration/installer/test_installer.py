"""The install script, end to end against a real server: ``curl ... | sh -s -- --key KEY
--prefix DIR --no-service`` installs the agent from the server's own wheels (no package
index), enrolls (the device appears), and ``--uninstall`` removes everything.

systemd cannot run in the test container, so the service path runs with a stand-in
``systemctl`` (``BREEZE_SYSTEMCTL``) that records its calls, and the unit goes to a
temporary directory (``BREEZE_UNIT_DIR``); the unit file is checked with
``systemd-analyze verify`` and its ExecStart is run for real.
"""

from __future__ import annotations

import hashlib
import io
import os
import shlex
import shutil
import signal
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from breeze_agent.config import load_config, state_path
from breeze_agent.state import load_state
from tests.agent.helpers import require_root
from tests.factories import Tenant, make_tenant, ok, unique
from tests.integration.agent_e2e.conftest import eventually
from tests.support.server import LiveServer


@pytest.fixture(scope="module")
def script(server: LiveServer) -> str:
    r = httpx.get(f"{server.url}/api/v1/agents/install.sh", timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/x-shellscript")
    return r.text


@pytest.fixture
def org(admin: httpx.Client) -> Tenant:
    return make_tenant(admin)


def new_key(admin: httpx.Client, org_id: str) -> str:
    body = {"name": unique("installer"), "org_id": org_id}
    return str(ok(admin.post("/api/v1/enrollment-keys", json=body), 201)["key"])


def python_for_endpoint() -> str:
    """The system python3 when it matches the server's interpreter (its wheels' tags)."""
    for candidate in ("/usr/bin/python3", shutil.which("python3")):
        if not candidate or not os.path.exists(candidate):
            continue
        version = subprocess.run(
            [candidate, "-c", "import sys; print(sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        if version == str(sys.version_info[:2]):
            return candidate
    return sys.executable


def run_script(script: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``curl ... | sh -s -- ARGS``: the script arrives on standard input."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("BREEZE_", "PIP_"))}
    return subprocess.run(
        ["sh", "-s", "--", *args],
        input=script,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**clean, **env},
    )


@pytest.fixture
def prefix(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "opt" / "breeze agent"  # a space, to prove the quoting
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_script_is_valid_posix_sh_with_the_server_url(script: str, server: LiveServer) -> None:
    assert script.startswith("#!/bin/sh\n")
    assert f"DEFAULT_SERVER='{server.url}'" in script
    assert subprocess.run(["sh", "-n"], input=script, text=True, check=False).returncode == 0
    if shutil.which("shellcheck") or os.environ.get("CI"):  # CI installs it: never skipped
        lint = subprocess.run(
            ["shellcheck", "-s", "sh", "-"], input=script, capture_output=True, text=True
        )
        assert lint.returncode == 0, lint.stdout
    usage = run_script(script, "--help")
    assert usage.returncode == 0 and "--uninstall" in usage.stdout
    bad = run_script(script, "--frobnicate")
    assert bad.returncode != 0 and "unknown option: --frobnicate" in bad.stderr


def test_wheels_are_indexed_with_their_sha256(server: LiveServer) -> None:
    index: dict[str, Any] = httpx.get(f"{server.url}/api/v1/agents/wheels/index.json").json()
    names = {f["filename"] for f in index["files"]}
    assert index["agent"]["wheel"] in names
    for dep in ("psutil", "httpx", "pydantic", "pydantic_core", "typer", "rich", "websockets"):
        assert any(n.startswith(f"{dep}-") for n in names), dep
    assert not any(n.startswith(("fastapi-", "sqlalchemy-", "breeze_rmm-")) for n in names)
    for item in index["files"]:
        r = httpx.get(f"{server.url}/api/v1/agents/wheels/{item['filename']}", timeout=60)
        assert r.status_code == 200
        assert hashlib.sha256(r.content).hexdigest() == item["sha256"]
        assert len(r.content) == item["size"]
    agent = httpx.get(f"{server.url}/api/v1/agents/wheels/{index['agent']['wheel']}").content
    with zipfile.ZipFile(io.BytesIO(agent)) as zf:
        top = {n.split("/")[0] for n in zf.namelist()}
        metadata = zf.read(f"breeze_agent-{index['agent']['version']}.dist-info/METADATA")
    assert {"breeze_agent", "breeze_protocol"} <= top and "breeze" not in top
    assert b"Requires-Dist: psutil" in metadata
    again = httpx.get(f"{server.url}/api/v1/agents/wheels/index.json").json()
    assert again == index  # built once, stable
    for bad in ("nope-1.0-py3-none-any.whl", "..%2Fsecret.key.whl", "secret.key", "x.whl"):
        assert httpx.get(f"{server.url}/api/v1/agents/wheels/{bad}").status_code in (404, 422)


def test_install_enroll_run_and_uninstall(
    script: str, server: LiveServer, admin: httpx.Client, org: Tenant, prefix: Path
) -> None:
    key = new_key(admin, org.org["id"])
    done = run_script(
        script,
        "--key",
        key,
        "--prefix",
        str(prefix),
        "--no-service",
        "--python",
        python_for_endpoint(),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    config_path = prefix / "etc" / "agent.json"
    assert oct(config_path.stat().st_mode & 0o777) == "0o600"
    config = load_config(config_path)
    assert config.server_url == server.url
    devices = ok(admin.get("/api/v1/devices", params={"org_id": org.org["id"]}))["items"]
    assert [d["id"] for d in devices] == [config.device_id]
    venv = prefix / "venv"
    # the endpoint got the agent only: no server code, no server dependencies
    probe = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import breeze_agent, breeze_protocol, fastapi"],
        capture_output=True,
        text=True,
    )
    assert "No module named 'fastapi'" in probe.stderr
    status = subprocess.run(
        [str(venv / "bin" / "breeze-agent"), "status", "--json", "--config", str(config_path)],
        capture_output=True,
        text=True,
    )
    assert status.returncode == 0 and config.device_id in status.stdout
    assert config.auth_token not in status.stdout
    assert load_state(state_path(config_path)).full_inventory_sent

    # the installed agent runs and beats
    proc = subprocess.Popen(
        [str(venv / "bin" / "breeze-agent"), "run", "--config", str(config_path)],
        stderr=subprocess.PIPE,
        env={**os.environ, "BREEZE_AGENT_HEARTBEAT_INTERVAL": "1"},
    )
    try:
        eventually(lambda: load_state(state_path(config_path)).last_heartbeat_ok, timeout=60)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert proc.returncode == 0

    gone = run_script(script, "--uninstall", "--prefix", str(prefix))
    assert gone.returncode == 0, gone.stderr
    assert not prefix.exists()


def test_service_unit_is_installed_and_removed(
    script: str, server: LiveServer, admin: httpx.Client, org: Tenant, prefix: Path, tmp_path: Path
) -> None:
    require_root()  # the script refuses to install a service otherwise
    calls = tmp_path / "systemctl.calls"
    fake = tmp_path / "systemctl"
    fake.write_text(f'#!/bin/sh\necho "$*" >> {shlex.quote(str(calls))}\n')
    fake.chmod(0o755)
    units = tmp_path / "units"
    units.mkdir()
    seams = {"BREEZE_SYSTEMCTL": str(fake), "BREEZE_UNIT_DIR": str(units)}
    key = new_key(admin, org.org["id"])
    done = run_script(
        script, "--key", key, "--prefix", str(prefix), "--python", python_for_endpoint(), **seams
    )
    assert done.returncode == 0, done.stdout + done.stderr
    unit = (units / "breeze-agent.service").read_text()
    config_path = prefix / "etc" / "agent.json"
    exec_start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    argv = shlex.split(exec_start.removeprefix("ExecStart="))
    assert argv == [str(prefix / "venv/bin/breeze-agent"), "run", "--config", str(config_path)]
    assert "RestartPreventExitStatus=3 4" in unit and "Restart=on-failure" in unit
    assert calls.read_text().splitlines() == [
        "daemon-reload",
        "enable breeze-agent.service",
        "restart breeze-agent.service",
    ]
    if shutil.which("systemd-analyze"):
        check = subprocess.run(
            ["systemd-analyze", "verify", str(units / "breeze-agent.service")],
            capture_output=True,
            text=True,
        )
        assert check.returncode == 0 and not check.stderr.strip(), check.stderr
    # what systemd would start does start
    proc = subprocess.Popen(argv, env={**os.environ, "BREEZE_AGENT_HEARTBEAT_INTERVAL": "1"})
    try:
        eventually(lambda: load_state(state_path(config_path)).last_heartbeat_ok, timeout=60)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)

    gone = run_script(script, "--uninstall", "--prefix", str(prefix), **seams)
    assert gone.returncode == 0, gone.stderr
    assert not (units / "breeze-agent.service").exists() and not prefix.exists()
    assert calls.read_text().splitlines()[-2:] == [
        "disable --now breeze-agent.service",
        "daemon-reload",
    ]


def test_without_systemd_the_service_install_says_what_to_do(
    script: str, prefix: Path, tmp_path: Path
) -> None:
    if os.path.isdir("/run/systemd/system"):
        pytest.skip("systemd runs here; this checks the message on machines without it")
    done = run_script(script, "--key", "brz_enr_whatever", "--prefix", str(prefix))
    assert done.returncode != 0
    assert "systemd is not running" in done.stderr and "--no-service" in done.stderr
    assert not prefix.exists()


def test_refuses_an_old_python(script: str, prefix: Path, tmp_path: Path) -> None:
    old = tmp_path / "python3.9"
    old.write_text('#!/bin/sh\ncase "$*" in *print*) echo 3.9 ;; esac\nexit 1\n')
    old.chmod(0o755)
    done = run_script(
        script, "--key", "k" * 20, "--prefix", str(prefix), "--no-service", "--python", str(old)
    )
    assert done.returncode != 0
    assert "is Python 3.9" in done.stderr and "3.11 or newer" in done.stderr


def test_a_bad_key_fails_clearly_and_uninstall_cleans_up(
    script: str, prefix: Path, admin: httpx.Client
) -> None:
    args = ("--prefix", str(prefix), "--no-service", "--python", python_for_endpoint())
    done = run_script(script, "--key", "brz_enr_not-a-real-key-0000", *args)
    assert done.returncode != 0
    assert "enrollment failed" in done.stderr and "not valid" in done.stderr
    assert not (prefix / "etc" / "agent.json").exists()
    assert run_script(script, "--uninstall", "--prefix", str(prefix)).returncode == 0
    assert not prefix.exists()


def test_never_deletes_or_fills_a_foreign_directory(script: str, tmp_path: Path) -> None:
    foreign = tmp_path / "precious"
    foreign.mkdir()
    (foreign / "data.txt").write_text("keep me")
    gone = run_script(script, "--uninstall", "--prefix", str(foreign))
    assert gone.returncode != 0 and "not deleting" in gone.stderr
    put = run_script(script, "--key", "k" * 20, "--prefix", str(foreign), "--no-service")
    assert put.returncode != 0 and "not a Breeze agent install" in put.stderr
    assert sorted(p.name for p in foreign.iterdir()) == ["data.txt"]
