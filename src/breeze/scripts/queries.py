"""Reads of the script library, its versions and execution batches, through restrict().

System scripts (no partner) are visible to every principal holding scripts:read anywhere.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from breeze.commands.models import FINAL_STATES, STATES, DeviceCommand
from breeze.commands.queries import COMMAND_LIST, status_counts
from breeze.commands.schemas import SECRET_MASK, redact_payload
from breeze.core.pagination import Filter, ListParams, ListSpec, paginate
from breeze.core.principal import Principal, fetch_visible, restrict
from breeze.devices.models import Device
from breeze.devices.sql import json_array_contains
from breeze.scripts.errors import BatchNotFound, ScriptNotFound, ScriptVersionNotFound
from breeze.scripts.models import Script, ScriptBatch, ScriptVersion
from breeze.scripts.schemas import (
    BatchOut,
    ExecutionDetail,
    ExecutionOut,
    Progress,
    ScriptVersionSummary,
)

SCRIPT_LIST = ListSpec(
    sortable={
        "name": Script.name,
        "category": Script.category,
        "language": Script.language,
        "created_at": Script.created_at,
        "updated_at": Script.updated_at,
        "version": Script.version,
    },
    default_sort="name",
    searchable=(Script.name, Script.description),
    filters={
        "category": Filter(Script.category),
        "language": Filter(Script.language, description="bash, sh, python, powershell, cmd"),
        "os_type": Filter(
            Script.os_types, description="Only scripts that run on one of these (linux, ...)"
        ),
        "is_system": Filter(Script.is_system, bool),
        "partner_id": Filter(Script.partner_id, uuid.UUID),
        "org_id": Filter(Script.org_id, uuid.UUID),
    },
    time_column=Script.created_at,
)

VERSION_LIST = ListSpec(
    sortable={"version": ScriptVersion.version, "created_at": ScriptVersion.created_at},
    default_sort="-version",
)


def _has_system_permission(principal: Principal, permission: str) -> bool:
    """System scripts are shared with everyone who holds `permission` somewhere."""
    if principal.is_platform_admin:
        return True
    return any(permission in g.permissions for g in principal.partner_grants) or any(
        permission in g.permissions for g in principal.org_grants
    )


def visible_scripts(principal: Principal, permission: str = "scripts:read") -> Select[Any]:
    shared = Script.is_system.is_(True) if _has_system_permission(principal, permission) else None
    return restrict(select(Script), principal, permission, Script, shared=shared)


async def list_scripts(
    session: AsyncSession, principal: Principal, params: ListParams
) -> tuple[list[Script], int]:
    stmt = visible_scripts(principal)
    os_types = params.filters.get("os_type", [])
    if os_types:
        stmt = stmt.where(or_(*[json_array_contains(Script.os_types, o) for o in os_types]))
    rest = dataclasses.replace(
        params, filters={k: v for k, v in params.filters.items() if k != "os_type"}
    )
    return await paginate(session, stmt, rest, SCRIPT_LIST, Script.id)


async def get_script(
    session: AsyncSession,
    principal: Principal,
    script_id: uuid.UUID,
    permission: str = "scripts:read",
    *,
    for_update: bool = False,
) -> Script:
    stmt = visible_scripts(principal, permission).where(Script.id == script_id)
    if for_update:
        # Serialises concurrent edits of one script (each takes the next version number).
        stmt = stmt.with_for_update(of=Script)
    script: Script | None = (await session.execute(stmt)).scalar_one_or_none()
    if script is None:
        raise ScriptNotFound()
    return script


async def list_versions(
    session: AsyncSession, principal: Principal, script_id: uuid.UUID, params: ListParams
) -> tuple[list[ScriptVersion], int]:
    script = await get_script(session, principal, script_id)
    stmt = select(ScriptVersion).where(ScriptVersion.script_id == script.id)
    return await paginate(session, stmt, params, VERSION_LIST, ScriptVersion.id)


async def version_row(
    session: AsyncSession, script_id: uuid.UUID, version: int
) -> ScriptVersion | None:
    stmt = select(ScriptVersion).where(
        ScriptVersion.script_id == script_id, ScriptVersion.version == version
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_version(
    session: AsyncSession, principal: Principal, script_id: uuid.UUID, version: int
) -> ScriptVersion:
    script = await get_script(session, principal, script_id)
    row = await version_row(session, script.id, version)
    if row is None:
        raise ScriptVersionNotFound(version)
    return row


def version_summaries(rows: Iterable[ScriptVersion]) -> list[ScriptVersionSummary]:
    return [ScriptVersionSummary.model_validate(r) for r in rows]


async def script_names(
    session: AsyncSession, ids: Iterable[uuid.UUID | None]
) -> dict[uuid.UUID, str]:
    """Names of scripts by id (deleted ones included: executions outlive them)."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = await session.execute(select(Script.id, Script.name).where(Script.id.in_(wanted)))
    return dict(rows.tuples().all())


async def get_batch(
    session: AsyncSession,
    principal: Principal,
    batch_id: uuid.UUID,
    permission: str = "scripts:read",
) -> ScriptBatch:
    """A batch the principal may see (404 otherwise). A batch spanning several
    organizations (org_id null) is visible at the partner level only."""
    batch = await fetch_visible(session, principal, permission, ScriptBatch, batch_id)
    if batch is None:
        raise BatchNotFound()
    return batch


# -- executions (device commands of type "script") and batches ------------------------------

EXECUTION_FIELDS = tuple(ExecutionOut.model_fields)


async def device_names(session: AsyncSession, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    wanted = set(ids)
    if not wanted:
        return {}
    rows = await session.execute(
        select(Device.id, Device.display_name, Device.hostname).where(Device.id.in_(wanted))
    )
    return {i: display or host for i, display, host in rows.tuples()}


def _execution_fields(
    cmd: DeviceCommand, scripts: dict[uuid.UUID, str], devices: dict[uuid.UUID, str]
) -> dict[str, Any]:
    data = {name: getattr(cmd, name) for name in EXECUTION_FIELDS if hasattr(cmd, name)}
    data["script_name"] = scripts.get(cmd.script_id) if cmd.script_id else None
    data["device_name"] = devices.get(cmd.device_id)
    return data


async def execution_views(
    session: AsyncSession, cmds: Sequence[DeviceCommand]
) -> list[ExecutionOut]:
    scripts = await script_names(session, [c.script_id for c in cmds])
    devices = await device_names(session, [c.device_id for c in cmds])
    return [ExecutionOut(**_execution_fields(c, scripts, devices)) for c in cmds]


def queued_views(
    batch: ScriptBatch, rows: Sequence[dict[str, Any]], device_names: dict[uuid.UUID, str]
) -> list[ExecutionOut]:
    """The executions of a batch just queued, from the rows as written: no read back, and
    no validation of values the server made itself (a batch may hold ten thousand)."""
    unset: dict[str, Any] = dict.fromkeys(EXECUTION_FIELDS)
    views = []
    for row in rows:
        fields = unset | {k: v for k, v in row.items() if k in unset}
        fields["script_name"] = batch.script_name
        fields["device_name"] = device_names.get(row["device_id"])
        views.append(ExecutionOut.model_construct(**fields))
    return views


async def execution_detail(session: AsyncSession, cmd: DeviceCommand) -> ExecutionDetail:
    scripts = await script_names(session, [cmd.script_id])
    devices = await device_names(session, [cmd.device_id])
    payload = redact_payload(cmd.payload or {}, list(cmd.secret_names))
    env = payload.get("env") or {}
    # A secret erased from the finished command still reads as the mask, never as "".
    shown = {k: str(v) for k, v in env.items()} | {n: SECRET_MASK for n in cmd.secret_names}
    return ExecutionDetail(
        **_execution_fields(cmd, scripts, devices),
        language=payload.get("language"),
        run_as=payload.get("run_as"),
        timeout_seconds=cmd.timeout_seconds,
        parameters=shown,
        secret_names=list(cmd.secret_names),
        stdout=cmd.stdout,
        stderr=cmd.stderr,
        stdout_truncated=cmd.stdout_truncated,
        stderr_truncated=cmd.stderr_truncated,
        result_late=cmd.result_late,
        expires_at=cmd.expires_at,
        deadline_at=cmd.deadline_at,
    )


def progress_of(counts: dict[str, int]) -> Progress:
    progress = Progress(**{s: counts.get(s, 0) for s in STATES})
    progress.finished = sum(counts.get(s, 0) for s in FINAL_STATES)
    progress.total = sum(counts.get(s, 0) for s in STATES)
    return progress


async def batch_views(session: AsyncSession, batches: Sequence[ScriptBatch]) -> list[BatchOut]:
    counts = await status_counts(session, [b.id for b in batches])
    views = []
    for batch in batches:
        progress = progress_of(counts.get(batch.id, {}))
        done = progress.finished >= progress.total
        views.append(
            BatchOut(
                **{n: getattr(batch, n) for n in BatchOut.model_fields if hasattr(batch, n)},
                status="completed" if done else "running",
                progress=progress,
            )
        )
    return views


# -- reads of the web console (scoped lists, choices, targets) ------------------------------

CHOICES_LIMIT = 200


def in_scope(
    stmt: Select[Any], partner_id: uuid.UUID | None, org_id: uuid.UUID | None
) -> Select[Any]:
    """Scripts the console shows in a scope: the system scripts, the partner-wide ones of
    the scope's partner and the scope's organization's own."""
    if org_id is not None:
        own = Script.org_id == org_id
        if partner_id is not None:
            own = or_(own, and_(Script.org_id.is_(None), Script.partner_id == partner_id))
        return stmt.where(or_(Script.is_system.is_(True), own))
    if partner_id is not None:
        return stmt.where(or_(Script.is_system.is_(True), Script.partner_id == partner_id))
    return stmt


async def list_scripts_in(
    session: AsyncSession,
    principal: Principal,
    params: ListParams,
    *,
    partner_id: uuid.UUID | None,
    org_id: uuid.UUID | None,
) -> tuple[list[Script], int]:
    """The library list (filters as list_scripts) limited to a console scope."""
    stmt = in_scope(visible_scripts(principal), partner_id, org_id)
    os_types = params.filters.get("os_type", [])
    if os_types:
        stmt = stmt.where(or_(*[json_array_contains(Script.os_types, o) for o in os_types]))
    rest = dataclasses.replace(
        params, filters={k: v for k, v in params.filters.items() if k != "os_type"}
    )
    return await paginate(session, stmt, rest, SCRIPT_LIST, Script.id)


async def script_categories(
    session: AsyncSession,
    principal: Principal,
    *,
    partner_id: uuid.UUID | None,
    org_id: uuid.UUID | None,
) -> list[str]:
    """The categories in use by the scripts of a scope, by name."""
    base = in_scope(visible_scripts(principal), partner_id, org_id).subquery()
    stmt = select(base.c.category).distinct().order_by(base.c.category).limit(CHOICES_LIMIT)
    return [str(c) for c in (await session.execute(stmt)).scalars()]


async def script_choices(
    session: AsyncSession,
    principal: Principal,
    *,
    partner_id: uuid.UUID | None,
    org_id: uuid.UUID | None,
) -> list[Script]:
    """Scripts to pick from (run dialog, filters), by name."""
    stmt = in_scope(visible_scripts(principal), partner_id, org_id)
    stmt = stmt.order_by(Script.name, Script.id).limit(CHOICES_LIMIT)
    return list((await session.execute(stmt)).scalars())


async def list_executions_in(
    session: AsyncSession,
    principal: Principal,
    params: ListParams,
    *,
    partner_id: uuid.UUID | None,
    org_id: uuid.UUID | None,
    site_id: uuid.UUID | None,
) -> tuple[list[DeviceCommand], int]:
    """Script executions (filters as list_commands) limited to a console scope."""
    stmt = restrict(select(DeviceCommand), principal, "devices:read", DeviceCommand).where(
        DeviceCommand.type == "script"
    )
    if site_id is not None:
        stmt = stmt.where(DeviceCommand.site_id == site_id)
    elif org_id is not None:
        stmt = stmt.where(DeviceCommand.org_id == org_id)
    elif partner_id is not None:
        stmt = stmt.where(DeviceCommand.partner_id == partner_id)
    rows, total = await paginate(session, stmt, params, COMMAND_LIST, DeviceCommand.id)
    return list(rows), total


async def target_devices(
    session: AsyncSession, principal: Principal, ids: Iterable[uuid.UUID]
) -> list[Device]:
    """Devices named as run targets that the principal may see (others are left out)."""
    wanted = set(ids)
    if not wanted:
        return []
    stmt = restrict(select(Device), principal, "devices:read", Device).where(Device.id.in_(wanted))
    rows = (await session.execute(stmt)).scalars()
    return sorted(rows, key=lambda d: ((d.display_name or d.hostname).lower(), str(d.id)))
