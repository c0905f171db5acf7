"""Agent self-update (``update_agent``): fetch, verify and stage a new version; confirm it.

How an update goes (the supervisor is ``breeze_agent.supervisor``, the process behind
``breeze-agent run``; the agent proper runs as its child):

1. The running agent gets an ``update_agent`` envelope (signature already checked: it
   covers the wheel's sha256). ``handle_update`` downloads the wheel, checks its size and
   sha256, unpacks it (pure Python) into ``<home>/versions/<version>/`` without touching
   the running version, checks that the new version's requirements are met by this Python
   environment, writes ``pending.json`` (state ``staged``) and returns None: the service
   exits with ``EXIT_UPDATE``.
2. The supervisor marks the update ``trial`` (with a deadline) and starts the agent from
   the new directory (``PYTHONPATH``). After its first successful heartbeat the new agent
   (``after_heartbeat``) writes ``confirm.json``.
3. Confirmed in time: the supervisor makes the version active (``update.json``; a later
   start runs it too), marks the update ``confirmed``, keeps the previous version's
   directory for a rollback and deletes older ones; the new agent then posts the command's
   result (completed, ``details.version``). Otherwise (the new agent exited, or did not
   confirm within ``BREEZE_AGENT_UPDATE_CONFIRM_SECONDS``, default 60): the supervisor
   kills it, marks the version bad, marks the update ``rolled_back`` with the reason and
   restarts the previous version, which posts the command as failed.

The agent's home (``<home>``) is, first match wins: ``$BREEZE_AGENT_HOME``; the install
prefix when the agent runs from the install script's virtual environment
(``<prefix>/venv``, marked by ``<prefix>/.breeze-agent``: ``/opt/breeze-agent`` for a root
install, so ``--uninstall`` removes it); ``/var/lib/breeze-agent`` for the root config
``/etc/breeze-agent/agent.json`` (code does not belong in /etc); else beside the config,
``<config dir>/<config name>.updates/`` (per-user installs, tests, the demo). The
supervisor hands its choice to the child in ``$BREEZE_AGENT_HOME``.

Files in the home are a contract between versions (an old supervisor runs new agents),
JSON, written atomically: ``update.json`` (supervisor only: ``active`` version or null for
the installed package, ``base`` = the installed package's version when ``active`` was set,
``previous``, ``bad`` {version: reason}); ``pending.json`` (the last update: ``command_id``,
``from_version``, ``to_version``, ``state`` staged|trial|confirmed|rolled_back, ``reason``,
``deadline`` unix seconds, ``reported``); ``confirm.json`` (``command_id``, ``version``).
Writers never overlap: the agent writes ``pending.json`` only while it is the one running
and the supervisor is not deciding (staging; ``reported`` after the verdict).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import logging
import os
import re
import shutil
import sys
import tempfile
import time
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from breeze_agent import __version__
from breeze_agent.config import ROOT_CONFIG, AgentFileConfig, write_private
from breeze_agent.transport import Gateway, Refused, TransportError
from breeze_protocol.commands import CommandEnvelope, CommandResult, UpdateAgentPayload

log = logging.getLogger("breeze_agent.update")

EXIT_UPDATE = 10  # the agent staged an update: the supervisor restarts it on the new version
ENV_HOME = "BREEZE_AGENT_HOME"
ENV_SUPERVISED = "BREEZE_AGENT_SUPERVISED"  # set by the supervisor for its child (its pid)
ENV_CONFIRM_SECONDS = "BREEZE_AGENT_UPDATE_CONFIRM_SECONDS"
DEFAULT_CONFIRM_SECONDS = 60.0
ROOT_HOME = Path("/var/lib/breeze-agent")
INSTALL_MARKER = ".breeze-agent"
VERDICT_WAIT_SECONDS = 5.0  # how long a confirmed agent waits for the supervisor's verdict
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+!-]{0,49}$")

State = Literal["staged", "trial", "confirmed", "rolled_back"]
M = TypeVar("M", bound=BaseModel)


class UpdateError(Exception):
    """The update cannot be staged; the message says why (it becomes the command's error)."""


# -- where and what -------------------------------------------------------------------------


def agent_home(config_path: Path) -> Path:
    explicit = os.environ.get(ENV_HOME)
    if explicit:
        return Path(explicit).expanduser().resolve()
    prefix = Path(sys.prefix).resolve().parent
    if (prefix / INSTALL_MARKER).is_file():
        return prefix
    config = config_path.expanduser().resolve()
    if config == ROOT_CONFIG:
        return ROOT_HOME
    return config.parent / f"{config.stem}.updates"


def versions_dir(home: Path) -> Path:
    return home / "versions"


def version_dir(home: Path, version: str) -> Path:
    if not _VERSION.match(version) or version in (".", ".."):
        raise UpdateError(f"refusing version name {version!r}")
    return versions_dir(home) / version


class UpdateState(BaseModel):
    """``update.json``: which version the supervisor starts (written by it only)."""

    model_config = ConfigDict(extra="ignore")

    active: str | None = None
    base: str | None = None
    previous: str | None = None
    bad: dict[str, str] = Field(default_factory=dict)


class Pending(BaseModel):
    """``pending.json``: the last update and where it stands."""

    model_config = ConfigDict(extra="ignore")

    command_id: str
    from_version: str
    to_version: str
    state: State = "staged"
    reason: str | None = None
    deadline: float | None = None
    staged_at: float = Field(default_factory=time.time)
    reported: bool = False


class Confirmation(BaseModel):
    model_config = ConfigDict(extra="ignore")

    command_id: str
    version: str


def _load(path: Path, model: type[M]) -> M | None:
    try:
        return model.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable %s: %s", path, exc)
        return None


def _save(path: Path, model: BaseModel) -> None:
    write_private(path, model.model_dump_json(indent=2) + "\n")


def load_state(home: Path) -> UpdateState:
    return _load(home / "update.json", UpdateState) or UpdateState()


def save_state(home: Path, state: UpdateState) -> None:
    _save(home / "update.json", state)


def load_pending(home: Path) -> Pending | None:
    return _load(home / "pending.json", Pending)


def save_pending(home: Path, pending: Pending) -> None:
    _save(home / "pending.json", pending)


def load_confirmation(home: Path) -> Confirmation | None:
    return _load(home / "confirm.json", Confirmation)


def clear_confirmation(home: Path) -> None:
    (home / "confirm.json").unlink(missing_ok=True)


def confirm_seconds() -> float:
    raw = os.environ.get(ENV_CONFIRM_SECONDS, "")
    try:
        return max(0.1, float(raw)) if raw else DEFAULT_CONFIRM_SECONDS
    except ValueError:
        log.warning("%s=%r is not a number; using %gs", ENV_CONFIRM_SECONDS, raw, 60.0)
        return DEFAULT_CONFIRM_SECONDS


# -- staging --------------------------------------------------------------------------------


def unpack(home: Path, version: str, wheel: bytes) -> Path:
    """Unpack a pure-Python agent wheel into ``<home>/versions/<version>`` (atomically)."""
    target = version_dir(home, version)
    versions_dir(home).mkdir(parents=True, exist_ok=True, mode=0o755)
    tmp = Path(tempfile.mkdtemp(prefix=f".{version}.", dir=versions_dir(home)))
    try:
        try:
            zf = zipfile.ZipFile(io.BytesIO(wheel))
        except zipfile.BadZipFile as exc:
            raise UpdateError(f"the download is not a wheel: {exc}") from None
        with zf:
            names = zf.namelist()
            for name in names:
                parts = PurePosixPath(name).parts
                if name.startswith("/") or "\\" in name or ".." in parts or ":" in name:
                    raise UpdateError(f"the wheel holds an unsafe path {name!r}; not installing")
            metadata = f"breeze_agent-{version}.dist-info/METADATA"
            if "breeze_agent/__init__.py" not in names or metadata not in names:
                raise UpdateError(f"the download is not a breeze-agent {version} wheel")
            if any(n.endswith((".so", ".pyd", ".dylib")) for n in names):
                raise UpdateError("the wheel is not pure Python; not installing it")
            zf.extractall(tmp)
        declared = _metadata_field(tmp / metadata, "Version")
        if declared != [version]:
            raise UpdateError(f"the wheel says it is version {declared}, not {version}")
        tmp.chmod(0o755)
        if target.exists():  # an earlier staging or a rolled-back try: not running now
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _metadata_field(path: Path, name: str) -> list[str]:
    text = path.read_text(encoding="utf-8", errors="replace")
    head = text.split("\n\n", 1)[0]  # headers end at the first blank line (the description)
    prefix = f"{name}:"
    return [ln[len(prefix) :].strip() for ln in head.splitlines() if ln.startswith(prefix)]


def unmet_requirements(staged: Path, version: str) -> list[str]:
    """The new version's requirements this interpreter and environment do not satisfy."""
    metadata = staged / f"breeze_agent-{version}.dist-info" / "METADATA"
    try:
        from packaging.requirements import Requirement
        from packaging.specifiers import SpecifierSet
    except ImportError:  # not an agent dependency: pip carries a copy in every venv
        try:
            from pip._vendor.packaging.requirements import (  # type: ignore[no-redef,assignment]
                Requirement,
            )
            from pip._vendor.packaging.specifiers import (  # type: ignore[no-redef,assignment]
                SpecifierSet,
            )
        except ImportError:
            log.warning("cannot check requirements (no packaging module); trusting the wheel")
            return []
    import importlib.metadata as md

    missing: list[str] = []
    python = ".".join(str(p) for p in sys.version_info[:3])
    for spec in _metadata_field(metadata, "Requires-Python"):
        if not SpecifierSet(spec).contains(python, prereleases=True):
            missing.append(f"Python {spec} (this is {python})")
    for raw in _metadata_field(metadata, "Requires-Dist"):
        req = Requirement(raw)
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        try:
            installed = md.version(req.name)
        except md.PackageNotFoundError:
            missing.append(f"{req} (not installed)")
            continue
        if req.specifier and not req.specifier.contains(installed, prereleases=True):
            missing.append(f"{req} (installed: {installed})")
    return missing


def _result(status: Literal["completed", "failed"], started: float, **kw: Any) -> CommandResult:
    duration = int((time.monotonic() - started) * 1000)
    return CommandResult(status=status, duration_ms=duration, **kw)


async def handle_update(
    gw: Gateway, config: AgentFileConfig, config_path: Path, envelope: CommandEnvelope
) -> CommandResult | None:
    """Stage the release the (verified) envelope names. None: exit with ``EXIT_UPDATE`` now
    so the supervisor restarts into it; a failed result: nothing changed, say why."""
    started = time.monotonic()
    try:
        payload = UpdateAgentPayload.model_validate(envelope.payload)
    except ValidationError as exc:
        return _result("failed", started, error=f"invalid update_agent payload: {exc}"[:2000])
    home_env = os.environ.get(ENV_HOME)
    if not os.environ.get(ENV_SUPERVISED) or not home_env:
        return _result(
            "failed",
            started,
            error="this agent does not run under its supervisor ('breeze-agent run'), so it "
            "cannot restart into a new version; reinstall it with the install script instead",
        )
    home = Path(home_env)
    last = load_pending(home)
    if last is not None and last.command_id == envelope.id:  # delivered again: same answer
        repeat = verdict(last)
        if repeat is not None:
            return repeat
    if payload.version == __version__:
        details = {"version": __version__, "unchanged": True}
        return _result("completed", started, details=details)
    try:
        version_dir(home, payload.version)
        log.info("update to %s: downloading %s", payload.version, payload.url)
        try:
            wheel = await gw.download(payload.url)
        except (TransportError, Refused) as exc:
            raise UpdateError(f"downloading {payload.url} failed: {exc}") from None
        if len(wheel) != payload.size:
            raise UpdateError(f"the download has {len(wheel)} bytes, expected {payload.size}")
        digest = hashlib.sha256(wheel).hexdigest()
        if digest != payload.sha256:
            raise UpdateError(f"sha256 mismatch: got {digest}, expected {payload.sha256}")
        staged = await asyncio.to_thread(unpack, home, payload.version, wheel)
        missing = await asyncio.to_thread(unmet_requirements, staged, payload.version)
        if missing:
            shutil.rmtree(staged, ignore_errors=True)
            raise UpdateError(
                f"version {payload.version} needs what this agent's Python environment "
                f"lacks: {'; '.join(missing)}"
            )
        pending = Pending(
            command_id=envelope.id, from_version=__version__, to_version=payload.version
        )
        save_pending(home, pending)
    except (UpdateError, OSError) as exc:
        log.error("update to %s not staged: %s", payload.version, exc)
        return _result("failed", started, error=str(exc)[:2000], details={"version": __version__})
    log.info("version %s staged in %s; restarting into it", payload.version, staged)
    return None


# -- after the restart ----------------------------------------------------------------------


def verdict(pending: Pending) -> CommandResult | None:
    """The command's result once the supervisor has decided (from this version's view)."""
    if pending.state == "confirmed" and __version__ == pending.to_version:
        details = {"version": __version__, "previous_version": pending.from_version}
        return CommandResult(status="completed", details=details)
    if pending.state == "rolled_back" and __version__ != pending.to_version:
        error = f"rolled back: {pending.reason or 'the new version failed'}"
        return CommandResult(status="failed", error=error[:2000], details={"version": __version__})
    return None


async def after_heartbeat(gw: Gateway, config: AgentFileConfig, config_path: Path) -> None:
    """After each successful heartbeat: confirm a version on trial to the supervisor, and
    post the pending update command's result once it is decided."""
    home_env = os.environ.get(ENV_HOME)
    if not os.environ.get(ENV_SUPERVISED) or not home_env:
        return
    home = Path(home_env)
    pending = load_pending(home)
    if pending is None or pending.reported:
        return
    if pending.state == "trial" and pending.to_version == __version__:
        confirmation = Confirmation(command_id=pending.command_id, version=__version__)
        try:
            _save(home / "confirm.json", confirmation)
        except OSError as exc:
            log.error("cannot confirm version %s to the supervisor: %s", __version__, exc)
            return
        log.info("version %s heartbeats; told the supervisor", __version__)
        deadline = time.monotonic() + VERDICT_WAIT_SECONDS
        while pending is not None and pending.state == "trial":
            if time.monotonic() > deadline:
                return  # decided by the next heartbeat
            await asyncio.sleep(0.1)
            pending = load_pending(home)
        if pending is None:
            return
    result = verdict(pending)
    if result is None:
        return
    try:
        await gw.result(config.agent_id, pending.command_id, result)
    except Refused as exc:  # the server will not take it (e.g. the command timed out)
        log.warning("the server refused the update result: %s", exc)
    except TransportError as exc:
        log.warning("update result not sent yet (%s); retrying after the next heartbeat", exc)
        return
    pending.reported = True
    try:
        save_pending(home, pending)
    except OSError as exc:
        log.warning("cannot record that the update result was sent: %s", exc)
