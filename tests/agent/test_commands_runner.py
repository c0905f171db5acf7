"""The script runner on this machine: real interpreters, real process trees."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil  # type: ignore[import-untyped]  # no stubs in the venv (types-psutil)
import pytest

from breeze_agent.commands.runners.script import KILL_GRACE_SECONDS, run_script
from breeze_protocol.commands import (
    EXIT_REBOOT_REQUIRED_POSIX,
    TRUNCATION_MARKER,
    CommandResult,
    ScriptPayload,
)
from tests.agent.helpers import require_root, skip_or_fail
from tests.agent.unprivileged import unprivileged_python


def run(content: str, language: str = "bash", **fields: object) -> CommandResult:
    payload = ScriptPayload.model_validate({"language": language, "content": content, **fields})
    return asyncio.run(run_script(payload))


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A directory every user can write to (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="breeze-cmd-test-", dir="/tmp"))
    path.chmod(0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_stdout_stderr_and_exit_codes() -> None:
    ok = run("echo out; echo err >&2")
    assert (ok.status, ok.exit_code, ok.stdout, ok.stderr) == ("completed", 0, "out\n", "err\n")
    assert ok.error is None and ok.duration_ms is not None and not ok.pending_reboot
    bad = run("echo partial; exit 3")
    assert (bad.status, bad.exit_code, bad.stdout) == ("failed", 3, "partial\n")
    assert bad.error == "exited with code 3"


def test_exit_194_means_done_but_reboot_needed() -> None:
    result = run(f"exit {EXIT_REBOOT_REQUIRED_POSIX}")
    assert (result.status, result.exit_code, result.pending_reboot) == ("completed", 194, True)


def test_python_and_sh() -> None:
    py = run("import sys\nprint('py', sys.version_info[0])\nsys.exit(5)", "python")
    assert (py.status, py.exit_code, py.stdout) == ("failed", 5, "py 3\n")
    sh = run('[ -n "$BASH_VERSION" ] && echo bash || echo posix', "sh")
    assert sh.status == "completed" and sh.stdout.strip() in ("posix", "bash")


def test_unavailable_interpreters_fail_clearly() -> None:
    cmd = run("echo hi", "cmd")
    assert cmd.status == "failed" and cmd.error and "only on Windows" in cmd.error
    if shutil.which("pwsh") is None:
        ps = run("Write-Output hi", "powershell")
        assert (ps.status, ps.error) == ("failed", "PowerShell (pwsh) is not installed")


def test_clean_environment_with_parameters() -> None:
    os.environ["BREEZE_AGENT_SECRET_PROBE"] = "leak"
    try:
        result = run(
            'echo "greeting=$GREETING"; echo "tmp=$TMPDIR"; echo "cwd=$(pwd)"; '
            "env | grep -c BREEZE_AGENT_SECRET_PROBE || true; ls",
            env={"GREETING": "hello world"},
        )
    finally:
        del os.environ["BREEZE_AGENT_SECRET_PROBE"]
    lines = result.stdout.splitlines()
    assert lines[0] == "greeting=hello world"
    tmp = lines[1].removeprefix("tmp=")
    assert lines[2] == f"cwd={tmp}" and Path(tmp).name.startswith("breeze-cmd-")
    assert lines[3] == "0"  # nothing of the agent's own environment
    assert lines[4] == "script.sh"
    assert not Path(tmp).exists()  # the run's directory is removed afterwards


def test_output_is_capped_with_a_marker() -> None:
    result = run(
        "head -c 5000 /dev/zero | tr '\\0' x; printf 'e%.0s' $(seq 10) >&2", max_output_bytes=1024
    )
    assert result.stdout_truncated and not result.stderr_truncated
    assert result.stdout == "x" * 1024 + TRUNCATION_MARKER.format(dropped=5000 - 1024)
    assert result.stderr == "e" * 10


def test_invalid_utf8_is_replaced() -> None:
    result = run("printf 'a\\377b'")
    assert result.stdout == "a\ufffdb"


def test_nul_bytes_are_replaced_so_the_server_can_store_them() -> None:
    pieces: list[str] = []
    payload = ScriptPayload(language="bash", content="printf 'a\\0b'; printf 'c\\0' >&2")
    result = asyncio.run(run_script(payload, on_output=lambda s, t: pieces.append(t)))
    assert (result.stdout, result.stderr) == ("a\ufffdb", "c\ufffd")
    assert "\x00" not in "".join(pieces)


def test_output_streams_while_running() -> None:
    pieces: list[tuple[str, str]] = []
    payload = ScriptPayload(language="bash", content="echo one; sleep 0.3; echo two >&2")
    result = asyncio.run(run_script(payload, on_output=lambda s, t: pieces.append((s, t))))
    assert "".join(t for s, t in pieces if s == "stdout") == result.stdout == "one\n"
    assert "".join(t for s, t in pieces if s == "stderr") == "two\n"
    assert pieces[0] == ("stdout", "one\n")


def test_timeout_kills_the_whole_tree(open_dir: Path) -> None:
    pids = open_dir / "pids"
    # A child that ignores SIGTERM, its sleeping grandchild, and one that left the session.
    script = f"""
trap '' TERM
( trap '' TERM; sleep 300 & echo $! >> {pids}; echo $BASHPID >> {pids}; wait ) &
setsid sleep 301 & echo $! >> {pids}
echo started
wait
"""
    started = time.monotonic()
    result = run(script, timeout_seconds=1)
    elapsed = time.monotonic() - started
    assert result.status == "timeout" and result.error == "timed out after 1s"
    assert result.stdout == "started\n"
    assert elapsed < 1 + KILL_GRACE_SECONDS + 3
    recorded = [int(p) for p in pids.read_text().split()]
    assert len(recorded) == 3
    time.sleep(0.2)
    assert [p for p in recorded if alive(p)] == []


def test_cancel_stops_a_running_script(open_dir: Path) -> None:
    pids = open_dir / "pids"

    async def scenario() -> CommandResult:
        stop = asyncio.Event()
        seen = asyncio.Event()
        payload = ScriptPayload(
            language="bash", content=f"sleep 300 & echo $! > {pids}; echo ready; wait"
        )
        task = asyncio.create_task(
            run_script(payload, on_output=lambda s, t: seen.set(), stop=stop)
        )
        await asyncio.wait_for(seen.wait(), 10)
        stop.set()
        return await asyncio.wait_for(task, 15)

    result = asyncio.run(scenario())
    assert (result.status, result.error, result.stdout) == ("cancelled", "cancelled", "ready\n")
    time.sleep(0.2)
    assert not alive(int(pids.read_text()))


def test_task_cancellation_kills_the_tree(open_dir: Path) -> None:
    pids = open_dir / "pids"

    async def scenario() -> None:
        payload = ScriptPayload(language="bash", content=f"echo $$ > {pids}; sleep 300")
        task = asyncio.create_task(run_script(payload))
        for _ in range(100):
            if pids.exists() and pids.read_text().strip():
                break
            await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    time.sleep(0.2)
    assert not alive(int(pids.read_text()))


def test_run_as_another_user(open_dir: Path) -> None:
    require_root()
    import pwd

    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        skip_or_fail("no 'nobody' user")
        return
    result = run(
        f'id -un; echo "$HOME"; touch ./mine; stat -c %U ./mine; touch {open_dir}/made',
        "sh",
        run_as="nobody",
    )
    assert result.status == "completed", result
    name, home, owner = result.stdout.split()
    assert (name, home, owner) == ("nobody", nobody.pw_dir, "nobody")
    assert (open_dir / "made").stat().st_uid == nobody.pw_uid
    denied = run("cat /etc/shadow", "sh", run_as="nobody")
    assert denied.status == "failed" and "Permission denied" in denied.stderr


def test_run_as_an_unknown_user() -> None:
    result = run("id", run_as="breeze-no-such-user")
    assert result.status == "failed" and result.error
    if os.geteuid() == 0:
        assert "no local user named 'breeze-no-such-user'" in result.error
    else:
        assert "cannot run as breeze-no-such-user" in result.error


def test_an_unprivileged_agent_cannot_run_as_another_user(open_dir: Path) -> None:
    python, env = unprivileged_python({**os.environ, "HOME": str(open_dir)})
    code = (
        "import asyncio\n"
        "from breeze_agent.commands.runners.script import run_script\n"
        "from breeze_protocol.commands import ScriptPayload\n"
        "p = ScriptPayload(language='sh', content='id', run_as='root')\n"
        "print(asyncio.run(run_script(p)).model_dump_json())\n"
    )
    done = subprocess.run(
        [*python, "-c", code], capture_output=True, text=True, env=env, cwd=open_dir, check=True
    )
    result = CommandResult.model_validate_json(done.stdout)
    assert (result.status, result.error) == (
        "failed",
        "the agent runs as nobody and cannot run as root",
    )
