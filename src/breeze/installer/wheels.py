"""The wheels the install script installs: the agent and its runtime dependencies.

No package index is needed, neither by the endpoint nor by the server:

* ``breeze-agent`` is its own small distribution, written here with ``zipfile`` from the
  ``breeze_agent`` and ``breeze_protocol`` packages this server runs (pure Python, so one
  ``py3-none-any`` wheel; the server's code is not in it).
* each runtime dependency (psutil, httpx, pydantic, typer, rich, websockets and what they
  need) is re-packed from the distribution installed next to the server, from the files its
  ``RECORD`` lists, keeping the original wheel tags. Only when a distribution cannot be
  re-packed (installed without a RECORD) does the server ask pip to download it.

Compiled dependencies therefore carry the server's interpreter and platform tags (e.g.
``cp311 manylinux x86_64``); ``index.json`` says so, and the install script checks the
endpoint's python against it before installing.

The set is built once per server process (a lock, in a worker thread) into
``<data_dir>/agent-wheels/<fingerprint>/`` and reused across restarts while nothing in it
changed. Archives are deterministic: same inputs, same bytes, same sha256.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import importlib.metadata as md
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:
    from packaging.markers import default_environment
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name
except ImportError:  # not a declared dependency yet: use the copy every pip carries
    from pip._vendor.packaging.markers import default_environment  # type: ignore[no-redef,assignment]
    from pip._vendor.packaging.requirements import Requirement  # type: ignore[no-redef,assignment]
    from pip._vendor.packaging.utils import canonicalize_name  # type: ignore[no-redef,assignment]

import breeze_agent
import breeze_protocol

log = logging.getLogger(__name__)

AGENT_DIST = "breeze-agent"
AGENT_PACKAGES = (breeze_agent, breeze_protocol)
AGENT_DEPENDENCIES = ("psutil", "httpx", "pydantic", "typer", "rich", "websockets", "cryptography")
AGENT_SCRIPTS = {"breeze-agent": "breeze_agent.cli:main"}
ZIP_DATE = (2020, 1, 1, 0, 0, 0)
SKIP_DIST_INFO = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}


class WheelBuildError(Exception):
    """The wheel set could not be built; the message says which distribution and why."""


@dataclass(frozen=True)
class WheelSet:
    directory: Path
    index: dict[str, Any]

    def path_of(self, filename: str) -> Path | None:
        names = {f["filename"] for f in self.index["files"]}
        return self.directory / filename if filename in names else None


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + digest.decode("ascii")


def write_wheel(target: Path, files: Iterable[tuple[str, bytes]], dist_info: str) -> None:
    """A wheel archive from ``(archive name, content)`` pairs plus a generated RECORD."""
    records: list[str] = []
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in sorted(files):
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
            records.append(f"{name},{_record_hash(data)},{len(data)}")
        record_name = f"{dist_info}/RECORD"
        records.append(f"{record_name},,")
        info = zipfile.ZipInfo(record_name, date_time=ZIP_DATE)
        info.external_attr = 0o644 << 16
        zf.writestr(info, "\n".join(records) + "\n")


# -- the agent's own wheel ------------------------------------------------------------------


def agent_requirements() -> list[str]:
    """The agent's dependencies with the version floors the server's package declares."""
    declared: dict[str, str] = {}
    with contextlib.suppress(md.PackageNotFoundError):
        for raw in md.requires("breeze-rmm") or []:
            req = Requirement(raw)
            if req.marker is None:
                declared[canonicalize_name(req.name)] = f"{req.name}{req.specifier}"
    return [declared.get(canonicalize_name(n), n) for n in AGENT_DEPENDENCIES]


def agent_sources() -> list[tuple[str, Path]]:
    """(archive name, file) of every module of the agent's packages."""
    out: list[tuple[str, Path]] = []
    for package in AGENT_PACKAGES:
        root = Path(package.__file__ or "").parent
        for path in sorted(root.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                out.append((f"{root.name}/{path.relative_to(root).as_posix()}", path))
    return out


def build_agent_wheel(directory: Path) -> Path:
    version = breeze_agent.__version__
    dist_info = f"breeze_agent-{version}.dist-info"
    metadata = [
        "Metadata-Version: 2.1",
        f"Name: {AGENT_DIST}",
        f"Version: {version}",
        "Summary: Breeze RMM agent (built by the Breeze server for its install script)",
        "License: AGPL-3.0-or-later",
        "Requires-Python: >=3.11",
        *(f"Requires-Dist: {r}" for r in agent_requirements()),
    ]
    wheel = ["Wheel-Version: 1.0", "Generator: breeze-server", "Root-Is-Purelib: true"]
    scripts = "\n".join(f"{k} = {v}" for k, v in AGENT_SCRIPTS.items())
    files = [(name, path.read_bytes()) for name, path in agent_sources()]
    files += [
        (f"{dist_info}/METADATA", ("\n".join(metadata) + "\n").encode()),
        (f"{dist_info}/WHEEL", ("\n".join([*wheel, "Tag: py3-none-any"]) + "\n").encode()),
        (f"{dist_info}/entry_points.txt", f"[console_scripts]\n{scripts}\n".encode()),
    ]
    target = directory / f"breeze_agent-{version}-py3-none-any.whl"
    write_wheel(target, files, dist_info)
    return target


# -- dependencies, re-packed from what is installed -----------------------------------------


def dependency_closure(requirements: Iterable[str]) -> list[md.Distribution]:
    """Installed distributions needed by ``requirements`` (markers evaluated here, no extras)."""
    env: dict[str, str] = {str(k): str(v) for k, v in default_environment().items()}
    env["extra"] = ""
    seen: dict[str, md.Distribution] = {}
    queue = [Requirement(r) for r in requirements]
    while queue:
        req = queue.pop()
        if req.marker is not None and not req.marker.evaluate(env):
            continue
        key = canonicalize_name(req.name)
        if key in seen:
            continue
        try:
            dist = md.distribution(req.name)
        except md.PackageNotFoundError:
            raise WheelBuildError(f"{req.name} is not installed next to the server") from None
        seen[key] = dist
        queue.extend(Requirement(r) for r in dist.requires or [])
    return [seen[k] for k in sorted(seen)]


def _compressed_tags(tags: list[str]) -> str:
    parts = [t.split("-") for t in tags]
    return "-".join(".".join(dict.fromkeys(p[i] for p in parts)) for i in range(3))


def repack(dist: md.Distribution, directory: Path) -> Path:
    """Rebuild the wheel an installed distribution came from."""
    wheel_meta = dist.read_text("WHEEL")
    files = dist.files
    if not wheel_meta or not files:
        raise WheelBuildError(f"{dist.name} has no WHEEL/RECORD metadata")
    tags = [
        line.split(":", 1)[1].strip() for line in wheel_meta.splitlines() if line.startswith("Tag:")
    ]
    dist_info = next((p.parts[0] for p in files if p.parts[0].endswith(".dist-info")), None)
    if not tags or dist_info is None:
        raise WheelBuildError(f"{dist.name} has no wheel tags or dist-info")
    content: list[tuple[str, bytes]] = []
    for rel in files:
        name = rel.as_posix()
        if name.startswith("..") or "__pycache__" in rel.parts or name.endswith(".pyc"):
            continue  # scripts outside site-packages are regenerated from entry_points.txt
        if rel.parts[0] == dist_info and rel.name in SKIP_DIST_INFO:
            continue
        path = Path(str(dist.locate_file(rel)))
        try:
            content.append((name, path.read_bytes()))
        except OSError as exc:
            raise WheelBuildError(f"{dist.name}: cannot read {path}: {exc}") from exc
    stem = dist_info[: -len(".dist-info")]  # name-version as installed
    target = directory / f"{stem}-{_compressed_tags(tags)}.whl"
    write_wheel(target, content, dist_info)
    return target


def download(dist: md.Distribution, directory: Path) -> Path:
    """Last resort for a distribution that cannot be re-packed: ask pip (needs an index)."""
    before = set(directory.iterdir())
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"),
            *("--dest", str(directory), f"{dist.name}=={dist.version}"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    new = sorted(set(directory.iterdir()) - before)
    if proc.returncode != 0 or not new:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise WheelBuildError(f"{dist.name} {dist.version}: cannot re-pack or download: {tail}")
    return new[0]


# -- the set, cached on disk ----------------------------------------------------------------


def interpreter() -> dict[str, str]:
    return {
        "implementation": sys.implementation.name,
        "version": f"{sys.version_info.major}.{sys.version_info.minor}",
        "abi": f"cp{sys.version_info.major}{sys.version_info.minor}",
        "system": sys.platform,
        "machine": platform.machine(),
    }


def fingerprint(dists: list[md.Distribution]) -> str:
    h = hashlib.sha256()
    for name, path in agent_sources():
        h.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    for dist in dists:
        h.update(f"{dist.name}=={dist.version}\n".encode())
    h.update(json.dumps(interpreter(), sort_keys=True).encode())
    h.update(breeze_agent.__version__.encode())
    return h.hexdigest()[:16]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build(target: Path) -> dict[str, Any]:
    """Build every wheel into ``target`` (an empty directory) and return the index."""
    agent = build_agent_wheel(target)
    built = [agent]
    for dist in dependency_closure(agent_requirements()):
        try:
            built.append(repack(dist, target))
        except WheelBuildError as exc:
            log.warning("%s; trying pip download", exc)
            built.append(download(dist, target))
    files = [{"filename": p.name, "sha256": _sha256(p), "size": p.stat().st_size} for p in built]
    return {
        "agent": {"name": AGENT_DIST, "version": breeze_agent.__version__, "wheel": agent.name},
        "interpreter": interpreter(),
        "files": sorted(files, key=lambda f: str(f["filename"])),
    }


class WheelStore:
    """The wheel set under ``root``; ``get()`` builds it at most once (thread- and
    process-safe) and is meant to be called from a worker thread."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._ready: WheelSet | None = None

    def get(self) -> WheelSet:
        with self._lock:
            if self._ready is None:
                self._ready = self._load_or_build()
            return self._ready

    def _load_or_build(self) -> WheelSet:
        self.root.mkdir(parents=True, exist_ok=True)
        key = fingerprint(dependency_closure(agent_requirements()))
        final = self.root / key
        with (self.root / ".lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # another server process on the same data dir
            index_file = final / "index.json"
            if index_file.is_file():
                return WheelSet(final, json.loads(index_file.read_text()))
            tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=self.root))
            try:
                index = build(tmp)
                (tmp / "index.json").write_text(json.dumps(index, indent=2) + "\n")
                os.replace(tmp, final)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            log.info("agent wheels built in %s (%d files)", final, len(index["files"]))
            self._prune(keep=final)
            return WheelSet(final, index)

    def _prune(self, keep: Path, older_than: float = 86400.0) -> None:
        """Drop wheel sets of earlier versions (left a day, for a rolling upgrade)."""
        now = time.time()
        for old in self.root.iterdir():
            if old == keep or not old.is_dir():  # also stale .build-* of crashed builds
                continue
            if now - old.stat().st_mtime > older_than:
                shutil.rmtree(old, ignore_errors=True)


_stores: dict[Path, WheelStore] = {}
_stores_lock = threading.Lock()


def store_for(data_dir: Path) -> WheelStore:
    root = (data_dir / "agent-wheels").resolve()
    with _stores_lock:
        return _stores.setdefault(root, WheelStore(root))
