"""Run the agent's Python code as ``nobody``, wherever the checkout lives.

The checkout and its venv may sit where ``nobody`` cannot even traverse (a clone in a 0700
``mktemp -d``, root's home). So the tests that prove behaviour as an unprivileged user run
a copy of ``breeze_agent``, ``breeze_protocol`` and the third-party packages they import,
made once per test session in a world-readable temporary directory, under an interpreter
``nobody`` can execute (same Python version, so compiled extensions load), with ``-S`` so
no other site-packages (e.g. the OS's) can stand in for a missing copy. The code that runs
is the code under test; only where it is read from differs.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.agent.helpers import require_root, skip_or_fail

UNPRIVILEGED = ("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups")
ROOTS = ("breeze_agent", "breeze_protocol")

# Imports every module of ROOTS, then prints {top-level name: [file or package dirs]} of
# everything imported that is not the standard library.
_DISCOVER = """
import importlib, json, pkgutil, sys, sysconfig
for root in sys.argv[1:]:
    pkg = importlib.import_module(root)
    for info in pkgutil.walk_packages(pkg.__path__, root + "."):
        importlib.import_module(info.name)
paths = sysconfig.get_paths()
std = {paths[k] for k in ("stdlib", "platstdlib")}
site = {paths[k] for k in ("purelib", "platlib")}  # in a venv, inside platstdlib


def is_std(path):
    inside = lambda roots: any(path.startswith(r + "/") for r in roots)
    return inside(std) and not inside(site)


found = {}
for name, mod in list(sys.modules.items()):
    top = name.partition(".")[0]
    if top in found or top in sys.builtin_module_names:
        continue
    top_mod = sys.modules.get(top)
    file = getattr(top_mod, "__file__", None)
    paths = list(getattr(top_mod, "__path__", []) or [])
    where = paths or ([file] if file else [])
    if where and not any(is_std(p) for p in where):
        found[top] = where
print(json.dumps(found))
"""


def _open_tree(path: Path) -> None:
    for base, _dirs, files in os.walk(path):
        os.chmod(base, 0o755)
        for name in files:
            target = Path(base, name)
            if not target.is_symlink():
                target.chmod(0o755 if os.access(target, os.X_OK) else 0o644)


def _copy_packages(dest: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", _DISCOVER, *ROOTS], capture_output=True, text=True, check=True
    )
    found: dict[str, list[str]] = json.loads(proc.stdout)
    sources: set[Path] = set()
    for top, where in sorted(found.items()):
        for item in where:
            src = Path(item)
            if src.is_dir():
                shutil.copytree(src, dest / top, dirs_exist_ok=True, symlinks=False)
                sources.add(src.parent)
            else:
                shutil.copy2(src, dest / src.name)
                sources.add(src.parent)
    # Wheels may vendor shared libraries beside the package (``<name>.libs``), and some
    # packages read their own metadata (``*.dist-info``).
    for folder in sources:
        for extra in [*folder.glob("*.libs"), *folder.glob("*.dist-info")]:
            if extra.is_dir() and not (dest / extra.name).exists():
                shutil.copytree(extra, dest / extra.name, symlinks=False)


def _interpreter(copy: Path) -> str | None:
    """The first interpreter of our Python version ``nobody`` can run with the copy."""
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    candidates = [
        os.path.realpath(getattr(sys, "_base_executable", sys.executable)),
        os.path.realpath(sys.executable),
        shutil.which(f"python{version}"),
        f"/usr/bin/python{version}",
        f"/usr/local/bin/python{version}",
    ]
    probe = "import sys, breeze_protocol; print('%d.%d' % sys.version_info[:2])"
    for exe in dict.fromkeys(c for c in candidates if c and os.path.exists(c)):
        done = subprocess.run(
            [*UNPRIVILEGED, exe, "-S", "-c", probe],
            capture_output=True,
            text=True,
            env=env_with(copy, {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}),
            cwd=copy,
            check=False,
        )
        if done.returncode == 0 and done.stdout.strip() == version:
            return exe
    return None


def env_with(copy: Path, base: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in base.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    return {**env, "PYTHONPATH": str(copy), "PYTHONNOUSERSITE": "1"}


@functools.cache
def _prepared() -> tuple[Path, str | None]:
    parent = "/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir()
    copy = Path(tempfile.mkdtemp(prefix="breeze-agent-unprivileged-", dir=parent))
    atexit.register(shutil.rmtree, copy, True)
    _copy_packages(copy)
    _open_tree(copy)
    return copy, _interpreter(copy)


def unprivileged_python(env: dict[str, str] | None = None) -> tuple[list[str], dict[str, str]]:
    """(argv prefix to run Python as ``nobody``, its environment) built on ``env``.

    Needs root (to switch user) and setpriv; skips (fails under CI) otherwise.
    """
    require_root("setpriv")
    copy, exe = _prepared()
    if exe is None:
        skip_or_fail(f"no Python {sys.version_info[0]}.{sys.version_info[1]} that nobody can run")
        raise AssertionError("unreachable")
    return [*UNPRIVILEGED, exe, "-S"], env_with(copy, dict(os.environ if env is None else env))


def unprivileged_cwd() -> Path:
    """A directory ``nobody`` can read, to run from (the checkout may not be)."""
    return _prepared()[0]
