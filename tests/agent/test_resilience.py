"""Unreadable sources give None and a reason, never an exception that stops the agent."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from breeze_agent._util import read_dmi, read_text, run
from breeze_agent.collectors import _guarded
from breeze_protocol import CollectReport
from tests.agent.unprivileged import unprivileged_python


def test_missing_empty_and_odd_files(tmp_path: Path) -> None:
    assert read_text(tmp_path / "absent") == (None, f"not present: {tmp_path / 'absent'}")
    (tmp_path / "empty").write_text("\n")
    assert read_text(tmp_path / "empty")[1] == f"empty: {tmp_path / 'empty'}"
    value, reason = read_text(tmp_path)  # a directory
    assert value is None and reason and reason.startswith("unreadable:")


def test_dmi_placeholders_are_not_data(tmp_path: Path) -> None:
    (tmp_path / "product_serial").write_text("To Be Filled By O.E.M.\n")
    (tmp_path / "sys_vendor").write_text("ACME Computers\n")
    assert read_dmi("sys_vendor", str(tmp_path)) == ("ACME Computers", None)
    value, reason = read_dmi("product_serial", str(tmp_path))
    assert value is None and reason and "placeholder" in reason
    value, reason = read_dmi("product_uuid", str(tmp_path / "no-dmi"))
    assert value is None and reason and "no DMI" in reason


def test_commands_that_fail_or_are_missing() -> None:
    assert run(["breeze-no-such-command-xyz"]) == (None, "breeze-no-such-command-xyz not installed")
    value, reason = run(["false"])
    assert value is None and reason and "exited 1" in reason
    assert run(["false"], ok_codes=(1,)) == ("", None)


def test_a_failing_collector_is_recorded_not_raised() -> None:
    errors: dict[str, str] = {}
    assert _guarded("broken", lambda: 1 // 0, errors) is None  # type: ignore[arg-type,return-value]
    assert errors == {"broken": "ZeroDivisionError: integer division or modulo by zero"}


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A directory every user can traverse (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="breeze-agent-test-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_permission_denied_is_a_reason(open_dir: Path) -> None:
    python, env = unprivileged_python()  # as nobody, from a copy nobody can read
    secret = open_dir / "product_serial"
    secret.write_text("SERIAL-123\n")
    secret.chmod(0o600)
    code = f"from breeze_agent._util import read_text; print(repr(read_text({str(secret)!r})))"
    out = subprocess.run(
        [*python, "-c", code], capture_output=True, text=True, env=env, cwd=open_dir, check=True
    ).stdout.strip()
    assert out == repr((None, f"permission denied: {secret} (readable by root only)"))


def test_collect_as_an_unprivileged_user(open_dir: Path) -> None:
    python, env = unprivileged_python({**os.environ, "HOME": str(open_dir)})
    args = ["-m", "breeze_agent.cli", "collect", "--json", "--cpu-interval", "0.05"]
    proc = subprocess.run(
        [*python, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=open_dir,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    report = CollectReport.model_validate_json(proc.stdout)
    assert report.inventory.errors == {} and report.errors == {}
    assert json.loads(proc.stdout)["inventory"]["software"]["items"]
