"""Built-in system scripts, kept in step with the shell files under ``builtin/``.

They are synchronised when the app starts (a router lifespan): each has a fixed id, so
every server process agrees on it; a changed definition becomes a new version; nothing is
written when all is current. Several processes may start at once: on PostgreSQL an
advisory lock serialises the writers, on SQLite the write transaction does.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from breeze.audit.actions import record
from breeze.core.principal import SYSTEM_ACTOR
from breeze.core.state import AppState
from breeze.db.base import utcnow
from breeze.db.engine import Database
from breeze.scripts.actions import snapshot
from breeze.scripts.models import Script
from breeze.scripts.parameters import validate_schema

log = logging.getLogger("breeze.scripts")
NAMESPACE = uuid.UUID("3f6f0a8e-8c57-4a55-9d0c-2b7c2f6d1e01")
SYNC_LOCK_KEY = 0x42535953  # "BSYS": PostgreSQL advisory lock of the sync


@dataclass(frozen=True)
class Builtin:
    key: str
    name: str
    description: str
    category: str
    file: str
    parameters: dict[str, Any] = field(default_factory=dict)
    timeout_seconds: int = 120
    os_types: tuple[str, ...] = ("linux",)
    language: str = "sh"

    @property
    def id(self) -> uuid.UUID:
        return uuid.uuid5(NAMESPACE, self.key)

    @property
    def content(self) -> str:
        return read_file(self.file)

    def fields(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "category": self.category,
            "os_types": list(self.os_types),
            "language": self.language,
            "content": self.content,
            "parameters": validate_schema(self.parameters),
            "timeout_seconds": self.timeout_seconds,
            "run_as": None,
        }


@cache
def read_file(name: str) -> str:
    return (resources.files("breeze.scripts") / "builtin" / name).read_text(encoding="utf-8")


def _int(title: str, default: int, minimum: int, maximum: int, description: str) -> dict[str, Any]:
    return {
        "type": "integer",
        "title": title,
        "description": description,
        "default": default,
        "minimum": minimum,
        "maximum": maximum,
    }


BUILTINS: tuple[Builtin, ...] = (
    Builtin(
        key="disk-usage",
        name="Disk usage report",
        description="Space and inodes of every local filesystem; flags those above a threshold.",
        category="monitoring",
        file="disk_usage.sh",
        parameters={
            "type": "object",
            "properties": {
                "THRESHOLD_PERCENT": _int(
                    "Warning threshold (%)", 90, 1, 100, "Flag filesystems at least this full"
                )
            },
        },
    ),
    Builtin(
        key="top-processes",
        name="Top processes",
        description="The processes using the most CPU and the most memory, with load and memory.",
        category="monitoring",
        file="top_processes.sh",
        timeout_seconds=60,
        parameters={
            "type": "object",
            "properties": {
                "COUNT": _int("Processes per list", 10, 1, 100, "How many processes to show")
            },
        },
    ),
    Builtin(
        key="restart-service",
        name="Restart a service",
        description="Restart a systemd service (systemctl restart) and show its state after.",
        category="maintenance",
        file="restart_service.sh",
        timeout_seconds=180,
        parameters={
            "type": "object",
            "properties": {
                "SERVICE_NAME": {
                    "type": "string",
                    "title": "Service",
                    "description": "systemd unit name, e.g. nginx or nginx.service",
                    "pattern": r"^[A-Za-z0-9_][A-Za-z0-9_.@:-]{0,253}$",
                    "maxLength": 254,
                }
            },
            "required": ["SERVICE_NAME"],
        },
    ),
    Builtin(
        key="clear-temp",
        name="Clear temporary files",
        description="Delete files in /tmp and /var/tmp not modified or read for some days.",
        category="maintenance",
        file="clear_temp.sh",
        timeout_seconds=600,
        parameters={
            "type": "object",
            "properties": {
                "OLDER_THAN_DAYS": _int(
                    "Older than (days)", 7, 1, 3650, "Only files untouched for longer"
                ),
                "DRY_RUN": {
                    "type": "boolean",
                    "title": "Dry run",
                    "description": "List what would be deleted; delete nothing",
                    "default": False,
                },
            },
        },
    ),
    Builtin(
        key="listening-ports",
        name="List listening ports",
        description="TCP and UDP sockets listening, with their processes (ss, netstat or /proc).",
        category="network",
        file="listening_ports.sh",
        timeout_seconds=60,
    ),
)
BY_KEY = {b.key: b for b in BUILTINS}


def _current(script: Script | None, wanted: dict[str, Any]) -> bool:
    if script is None or script.deleted_at is not None or not script.is_system:
        return False
    if script.partner_id is not None or script.org_id is not None:
        return False
    return all(getattr(script, k) == v for k, v in wanted.items())


async def _apply(session: AsyncSession, builtin: Builtin, wanted: dict[str, Any]) -> str | None:
    """Create or bring one built-in up to date; what was done, if anything."""
    script = await session.get(Script, builtin.id, populate_existing=True)
    if _current(script, wanted):
        return None
    if script is None:
        script = Script(id=builtin.id, is_system=True, version=1, **wanted)
        session.add(script)
        action = "script.create"
    else:
        changed = any(getattr(script, k) != v for k, v in wanted.items())
        for name, value in wanted.items():
            setattr(script, name, value)
        script.is_system, script.partner_id, script.org_id = True, None, None
        script.deleted_at = None
        if changed:
            script.version += 1
        script.updated_at = utcnow()
        action = "script.update"
        if not changed:
            await session.flush()
            return "restored"
    await session.flush()
    session.add(snapshot(script, by=None))
    await session.flush()
    await record(
        session,
        actor=SYSTEM_ACTOR,
        action=action,
        resource_type="script",
        resource_id=script.id,
        resource_name=script.name,
        details={"version": script.version, "builtin": builtin.key},
    )
    return f"{action} v{script.version}"


async def sync_builtins(db: Database) -> dict[str, str]:
    """Make the stored built-ins match BUILTINS; {key: what changed} (empty when current)."""
    wanted = {b.key: b.fields() for b in BUILTINS}
    async with db.read() as s:
        rows = await s.execute(select(Script).where(Script.id.in_([b.id for b in BUILTINS])))
        stored = {r.id: r for r in rows.scalars()}
    if all(_current(stored.get(b.id), wanted[b.key]) for b in BUILTINS):
        return {}
    done: dict[str, str] = {}
    async with db.write() as uow:
        if not db.is_sqlite:
            await uow.session.execute(
                text("SELECT pg_advisory_xact_lock(:k)"), {"k": SYNC_LOCK_KEY}
            )
        for builtin in BUILTINS:
            outcome = await _apply(uow.session, builtin, wanted[builtin.key])
            if outcome:
                done[builtin.key] = outcome
    if done:
        log.info("built-in scripts synchronised: %s", done)
    return done


@asynccontextmanager
async def builtin_lifespan(app: Any) -> AsyncIterator[None]:
    """Router lifespan: runs inside the app's, once the database is open."""
    state: AppState = app.state.breeze
    try:
        await sync_builtins(state.db)
    except Exception:  # the server must still start; the next start tries again
        log.exception("could not synchronise the built-in scripts")
    yield
