"""The built-in shell scripts, run for real on this machine with /bin/sh."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from breeze.scripts.builtin import BUILTINS, BY_KEY, read_file
from breeze.scripts.parameters import validate_schema, validate_values
from tests.agent.helpers import require_tools

SH = shutil.which("sh") or "/bin/sh"


def run(
    key: str, env: dict[str, str] | None = None, path: str | None = None
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("BREEZE_")}
    if path is not None:
        base["PATH"] = path
    return subprocess.run(
        [SH, "-c", read_file(BY_KEY[key].file)],
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_every_builtin_is_valid_posix_sh_with_a_valid_schema() -> None:
    assert len({b.id for b in BUILTINS}) == len(BUILTINS) == 5
    for builtin in BUILTINS:
        checked = subprocess.run(
            [SH, "-n", "-c", builtin.content], capture_output=True, check=False
        )
        assert checked.returncode == 0, (builtin.file, checked.stderr)
        schema = validate_schema(builtin.parameters)
        required = set(schema["required"])
        if not required:
            validate_values(schema, {})  # every parameter has a default


def test_disk_usage() -> None:
    out = run("disk-usage")
    assert out.returncode == 0, out.stderr
    assert "== Space (threshold 90%) ==" in out.stdout and "== Inodes ==" in out.stdout
    assert "Mounted on" in out.stdout
    flagged = run("disk-usage", {"THRESHOLD_PERCENT": "0"})
    assert "WARNING" in flagged.stdout  # every filesystem is at least 0% full
    assert run("disk-usage", {"THRESHOLD_PERCENT": "1; ls"}).returncode == 2


def test_top_processes() -> None:
    out = run("top-processes", {"COUNT": "3"})
    assert out.returncode == 0, out.stderr
    cpu = out.stdout.split("== Top 3 by CPU ==\n")[1].split("\n\n")[0].splitlines()
    assert 2 <= len(cpu) <= 4 and "PID" in cpu[0]
    assert "== Top 3 by memory ==" in out.stdout
    assert run("top-processes", {"COUNT": "x"}).returncode == 2


@pytest.mark.parametrize("name", ["", "-x", "nginx;reboot", "a b", "$(id)", "x/../y"])
def test_restart_service_refuses_bad_names(name: str) -> None:
    out = run("restart-service", {"SERVICE_NAME": name})
    assert out.returncode == 2
    assert "not a valid unit name" in out.stderr


def test_restart_service_reports_a_missing_unit() -> None:
    out = run("restart-service", {"SERVICE_NAME": "breeze-no-such-unit-4821.service"})
    # 3: no systemd on this machine (containers); 4: systemd knows no such unit.
    assert out.returncode in (3, 4), out.stderr
    assert "systemd is not running" in out.stderr or "No such service" in out.stderr


def _age(path: Path, days: int) -> None:
    stamp = time.time() - days * 86400
    os.utime(path, (stamp, stamp), follow_symlinks=False)


def test_clear_temp(tmp_path: Path) -> None:
    scratch, outside = tmp_path / "tmp", tmp_path / "outside"
    scratch.mkdir()
    outside.mkdir()
    (outside / "keep").write_text("precious")
    _age(outside / "keep", 30)
    old, new, nested = scratch / "old.log", scratch / "new.log", scratch / "a" / "b" / "old"
    nested.parent.mkdir(parents=True)
    for f in (old, new, nested):
        f.write_text("x")
    _age(old, 10)
    _age(nested, 10)
    link = scratch / "link"
    link.symlink_to(outside / "keep")
    _age(link, 10)
    private = scratch / "systemd-private-abc" / "tmp" / "state"
    private.parent.mkdir(parents=True)
    private.write_text("in use")
    _age(private, 30)
    env = {"BREEZE_TEST_TEMP_DIRS": str(scratch)}

    dry = run("clear-temp", {**env, "DRY_RUN": "true"})
    assert dry.returncode == 0, dry.stderr
    assert "3 entries older than 7 days would be removed" in dry.stdout
    assert old.exists() and nested.exists() and link.is_symlink()

    assert "0 entries" in run("clear-temp", {**env, "OLDER_THAN_DAYS": "20"}).stdout
    done = run("clear-temp", env)
    assert done.returncode == 0, done.stderr
    assert not old.exists() and not nested.exists() and not link.is_symlink()
    assert new.exists() and private.exists()
    assert (outside / "keep").read_text() == "precious"  # a link is removed, not followed
    for bad in ({"OLDER_THAN_DAYS": "-1"}, {"OLDER_THAN_DAYS": "7 -delete"}, {"DRY_RUN": "1"}):
        assert run("clear-temp", {**env, **bad}).returncode == 2


@pytest.fixture
def listening() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def _bin_with(tmp_path: Path, *tools: str) -> str:
    """A PATH directory holding only these tools (to exercise the fallbacks)."""
    found = {t: shutil.which(t) for t in tools}
    folder = tmp_path / "bin"
    folder.mkdir(exist_ok=True)
    for tool, where in found.items():
        if where:
            (folder / tool).symlink_to(where)
    return str(folder)


def test_listening_ports_with_ss(listening: int) -> None:
    require_tools("ss")  # a skip outside CI, a failure under CI
    out = run("listening-ports")
    assert out.returncode == 0, out.stderr
    assert "# source: ss" in out.stdout and f"127.0.0.1:{listening}" in out.stdout


def test_listening_ports_falls_back_to_netstat(listening: int, tmp_path: Path) -> None:
    require_tools("netstat")
    out = run("listening-ports", path=_bin_with(tmp_path, "netstat"))
    assert "# source: netstat" in out.stdout and f"127.0.0.1:{listening}" in out.stdout


def test_listening_ports_falls_back_to_proc(listening: int, tmp_path: Path) -> None:
    out = run("listening-ports", path=_bin_with(tmp_path, "awk", "cat"))
    assert out.returncode == 0, out.stderr
    assert "# source: /proc/net" in out.stdout
    assert f"tcp    LISTEN   127.0.0.1:{listening}" in out.stdout
