"""What the agent tests share: the OS's own answers, and the skip-unless-allowed rule."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest


def sh(*args: str, check: bool = True) -> str:
    """Run a command with the C locale and return its stdout."""
    env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
    proc = subprocess.run(list(args), capture_output=True, text=True, env=env, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {proc.returncode}: {proc.stderr}")
    return proc.stdout


def skip_or_fail(reason: str) -> None:
    """Skip with a printed reason; under CI a missing prerequisite is a failure, never a skip."""
    if os.environ.get("CI"):
        pytest.fail(f"CI is set, refusing to skip: {reason}")
    print(f"SKIPPED: {reason}")
    pytest.skip(reason)


def require_root(*tools: str) -> None:
    if os.geteuid() != 0:
        skip_or_fail("needs root")
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        skip_or_fail(f"needs {', '.join(missing)}")


def require_tools(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        skip_or_fail(f"needs {', '.join(missing)}")


def meminfo_kb(key: str) -> int:
    with open("/proc/meminfo", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise AssertionError(f"{key} not in /proc/meminfo")
