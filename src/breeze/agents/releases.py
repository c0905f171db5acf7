"""Agent releases: the wheels an ``update_agent`` command may install, and the route that
serves them to agents.

Known releases:

* the agent this server carries (``breeze_agent.__version__``), built from the server's own
  ``breeze_agent``/``breeze_protocol`` sources exactly as the install script gets it
  (``breeze.installer.wheels.build_agent_wheel``: deterministic, so every process of one
  code base builds the same bytes), kept in ``<data_dir>/agent-releases/.server/``;
* any ``breeze_agent-<version>-py3-none-any.whl`` an operator drops into
  ``<data_dir>/agent-releases/``. It is checked when used (a zip holding ``breeze_agent``
  and a dist-info whose ``Version`` matches the file name); for the server's own version
  the server's build wins.

``update_payload`` turns a version into the command's payload: where to fetch the wheel
(``/api/v1/agents/releases/<file>``, agent-token auth), its size and sha256. The envelope
signature covers the sha256, so a download that matches is the file the server meant.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
import shutil
import tempfile
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Request, Security
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

import breeze_agent
from breeze.agents.auth import AGENT_TOKEN_PREFIX, token_lookup
from breeze.core.errors import InvalidInput, NotFound, Unauthorized
from breeze.core.security import token_hash
from breeze.core.state import AppState, app_state
from breeze.installer.wheels import build_agent_wheel
from breeze_protocol.commands import UpdateAgentPayload

log = logging.getLogger("breeze.agents.releases")

RELEASES_DIR = "agent-releases"
URL_PREFIX = "/api/v1/agents/releases/"
# breeze_agent-<version>[-<build>]-<python>-<abi>-<platform>.whl, pure Python only.
_FILENAME = re.compile(r"^breeze_agent-([A-Za-z0-9_.+!]+)(?:-\d[\w.]*)?-py3-none-any\.whl$")
FILENAME_PATTERN = r"^[\w.+!-]+\.whl$"
_bearer = HTTPBearer(auto_error=False, description="Agent token from enrollment")


@dataclass(frozen=True)
class Release:
    version: str
    path: Path
    sha256: str
    size: int
    builtin: bool

    @property
    def filename(self) -> str:
        return self.path.name

    def payload(self) -> UpdateAgentPayload:
        return UpdateAgentPayload(
            version=self.version,
            url=URL_PREFIX + self.filename,
            sha256=self.sha256,
            size=self.size,
        )


class ReleaseCatalog:
    """The releases of one data directory (thread-safe; meant for worker threads or the
    event loop alike: everything but the first build is a directory listing)."""

    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir / RELEASES_DIR
        self._lock = threading.Lock()
        self._builtin: Release | None = None
        self._digests: dict[tuple[str, int, int], str] = {}

    # -- the server's own agent --------------------------------------------------------

    def builtin(self) -> Release:
        with self._lock:
            if self._builtin is None or not self._builtin.path.is_file():
                self._builtin = self._build()
            return self._builtin

    def _build(self) -> Release:
        target = self.root / ".server"
        target.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=target))
        try:
            built = build_agent_wheel(tmp)
            final = target / built.name
            os.replace(built, final)  # same code, same bytes: a concurrent build is harmless
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        for old in target.glob("*.whl"):  # earlier versions of the server's own build
            if old != final:
                old.unlink(missing_ok=True)
        data = final.read_bytes()
        return Release(
            breeze_agent.__version__, final, hashlib.sha256(data).hexdigest(), len(data), True
        )

    # -- dropped in by an operator -----------------------------------------------------

    def dropped(self) -> dict[str, Path]:
        """version -> wheel file of every well-named wheel in the releases directory."""
        found: dict[str, Path] = {}
        try:
            entries = sorted(self.root.iterdir())
        except FileNotFoundError:
            return found
        for path in entries:
            match = _FILENAME.match(path.name)
            if match and path.is_file():
                found.setdefault(match.group(1), path)
        return found

    def _digest(self, path: Path) -> tuple[str, int]:
        st = path.stat()
        key = (str(path), st.st_size, st.st_mtime_ns)
        with self._lock:
            known = self._digests.get(key)
        if known is None:
            h = hashlib.sha256()
            with path.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
            known = h.hexdigest()
            with self._lock:
                self._digests[key] = known
        return known, st.st_size

    # -- lookups -----------------------------------------------------------------------

    def versions(self) -> list[str]:
        return sorted({breeze_agent.__version__, *self.dropped()})

    def get(self, version: str | None) -> Release | None:
        own = self.builtin()
        if version is None or version == own.version:
            return own
        path = self.dropped().get(version)
        if path is None:
            return None
        check_wheel(path, version)
        sha256, size = self._digest(path)
        return Release(version, path, sha256, size, False)

    def by_filename(self, filename: str) -> Release | None:
        own = self.builtin()
        if filename == own.filename:
            return own
        match = _FILENAME.match(filename)
        if match is None:
            return None
        release = self.get(match.group(1))
        return release if release is not None and release.filename == filename else None


def check_wheel(path: Path, version: str) -> None:
    """Refuse a dropped file that is not an agent wheel of ``version``."""
    where = f"{RELEASES_DIR}/{path.name}"
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            metadata = f"breeze_agent-{version}.dist-info/METADATA"
            if "breeze_agent/__init__.py" not in names or metadata not in names:
                raise InvalidInput(
                    f"{where} is not a breeze-agent {version} wheel (no breeze_agent package "
                    f"or no {metadata})",
                    field="payload.version",
                )
            text = zf.read(metadata).decode("utf-8", "replace")
    except (OSError, zipfile.BadZipFile) as exc:
        raise InvalidInput(
            f"{where} is not a readable wheel: {exc}", field="payload.version"
        ) from None
    declared = next(
        (ln.split(":", 1)[1].strip() for ln in text.splitlines() if ln.startswith("Version:")),
        None,
    )
    if declared != version:
        raise InvalidInput(
            f"{where} declares version {declared!r}, not {version!r}", field="payload.version"
        )


_catalogs: dict[Path, ReleaseCatalog] = {}
_catalogs_lock = threading.Lock()


def catalog_for(data_dir: Path) -> ReleaseCatalog:
    root = data_dir.resolve()
    with _catalogs_lock:
        return _catalogs.setdefault(root, ReleaseCatalog(root))


def update_payload(state: AppState, version: str | None) -> UpdateAgentPayload:
    """The ``update_agent`` payload for ``version`` (None: the agent this server carries);
    InvalidInput naming ``payload.version`` for a version the server has no wheel of."""
    if version is not None:
        version = version.strip()
        if not version:
            raise InvalidInput("version must not be empty", field="payload.version")
    catalog = catalog_for(state.settings.data_dir)
    release = catalog.get(version)
    if release is None:
        known = ", ".join(catalog.versions())
        raise InvalidInput(
            f"no agent release {version!r} on this server (known: {known}); drop "
            f"breeze_agent-{version}-py3-none-any.whl into {RELEASES_DIR}/ in the data "
            "directory to offer it",
            field="payload.version",
        )
    return release.payload()


# -- route ----------------------------------------------------------------------------------

router = APIRouter(prefix="/agents", tags=["agent gateway"])


async def _any_agent(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)] = None,
) -> None:
    """Any live agent's token: releases are not per device, only not public."""
    if credentials is None or not credentials.credentials.startswith(AGENT_TOKEN_PREFIX):
        raise Unauthorized("An agent token is required")
    owner = await token_lookup(request.app).find(token_hash(credentials.credentials))
    if owner is None:
        raise Unauthorized("The agent token is not valid; the device may have been removed")


@router.get(
    "/releases/{filename}",
    response_class=FileResponse,
    summary="An agent release wheel (for update_agent)",
    responses={200: {"content": {"application/octet-stream": {}}}, 404: {}},
)
async def release_file(
    request: Request,
    filename: Annotated[str, PathParam(min_length=5, max_length=255, pattern=FILENAME_PATTERN)],
    _agent: Annotated[None, Security(_any_agent)],
) -> FileResponse:
    catalog = catalog_for(app_state(request).settings.data_dir)
    try:
        release = await asyncio.to_thread(catalog.by_filename, filename)
    except InvalidInput:
        release = None  # a damaged drop is the console's problem, not the agent's
    if release is None:
        raise NotFound(f"no agent release named {filename}")
    return FileResponse(release.path, media_type="application/octet-stream", filename=filename)
