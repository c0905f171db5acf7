"""Running library scripts: one batch per request, one device command per device.

Targets (devices, sites, organizations, device groups) resolve to live devices the actor
may run scripts on; devices of another operating system are skipped with the reason in the
answer. The parameters are checked against the script's schema; secret values travel only in the
commands' payloads (which erase them once final), never in the batch or the audit log.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Result, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from breeze.audit.actions import record
from breeze.commands import actions as commands
from breeze.commands import queries as command_queries
from breeze.commands.errors import CommandNotFound
from breeze.commands.models import DeviceCommand
from breeze.commands.push import LocalSockets
from breeze.core.errors import InvalidInput, NotFound
from breeze.core.principal import Principal
from breeze.db.base import utcnow
from breeze.db.engine import UnitOfWork
from breeze.devices.models import Device
from breeze.groups.queries import get_group, group_device_ids_condition
from breeze.scripts import queries
from breeze.scripts.errors import (
    ExecutionNotFound,
    NoTargets,
    NothingToRun,
    ScriptDeleted,
    SecretsRequired,
    TooManyDevices,
)
from breeze.scripts.models import Script, ScriptBatch, ScriptVersion
from breeze.scripts.parameters import (
    redact,
    secret_names,
    to_env,
    validate_values,
)
from breeze.scripts.schemas import ExecuteRequest, RerunRequest, SkippedDevice
from breeze.settings import Settings
from breeze.tenancy.models import Organization, Site

MAX_BATCH_DEVICES = 10_000
EXECUTE = ("scripts:execute", "devices:execute")


@dataclass(frozen=True, slots=True)
class Target:
    """A device as a launch reads it. A batch reaches up to 10,000, read as plain rows of
    these columns (`LAUNCH_COLUMNS`): loading them as ORM objects took about 80 ms of a
    5,000-device launch (py-spy)."""

    id: uuid.UUID
    partner_id: uuid.UUID
    org_id: uuid.UUID
    site_id: uuid.UUID
    agent_id: str
    hostname: str
    display_name: str | None
    os_type: str
    decommissioned_at: datetime | None

    @classmethod
    def of(cls, device: Device) -> Target:
        return cls(**{f.name: getattr(device, f.name) for f in fields(cls)})


# The Device columns of Target's fields, in their order.
LAUNCH_COLUMNS = tuple(getattr(Device, f.name) for f in fields(Target))


def _targets(result: Result[Any]) -> list[Target]:
    rows: list[Any] = list(result.tuples())  # each a row of LAUNCH_COLUMNS, in order
    return [Target(*row) for row in rows]


@dataclass
class Launched:
    """A batch just queued: its rows as written (column → value), for the answer."""

    batch: ScriptBatch
    commands: list[dict[str, Any]]
    skipped: list[SkippedDevice]
    device_names: dict[uuid.UUID, str]


def _name(device: Target) -> str:
    return device.display_name or device.hostname


def _require_execute(actor: Principal, **where: uuid.UUID | None) -> None:
    for permission in EXECUTE:
        actor.require(permission, **where)


def _seen(principal: Principal, model: type[Any]) -> ColumnElement[bool]:
    """A site or organization counts as seen through any of these permissions."""
    perms = ("sites:read" if model is Site else "orgs:read", "devices:read", "scripts:execute")
    return or_(*[principal.condition(model, p) for p in perms])


async def _places(
    session: AsyncSession,
    actor: Principal,
    model: Any,
    ids: list[uuid.UUID],
) -> list[Any]:
    if not ids:
        return []
    stmt = select(model).where(
        model.id.in_(set(ids)), model.deleted_at.is_(None), _seen(actor, model)
    )
    rows = list((await session.execute(stmt)).scalars())
    missing = set(ids) - {r.id for r in rows}
    if missing:
        what, field = ("Site", "site_ids") if model is Site else ("Organization", "org_ids")
        raise NotFound(f"{what} not found: {sorted(map(str, missing))[0]}", field=field)
    return rows


async def resolve_devices(
    session: AsyncSession, actor: Principal, req: ExecuteRequest
) -> tuple[list[Target], list[SkippedDevice]]:
    """The live devices the request reaches (each checked), and those it names but skips."""
    if not (req.device_ids or req.site_ids or req.org_ids or req.group_ids):
        raise NoTargets()
    skipped: list[SkippedDevice] = []
    found: dict[uuid.UUID, Target] = {}
    if req.device_ids:
        stmt = select(*LAUNCH_COLUMNS).where(
            Device.id.in_(set(req.device_ids)), actor.condition(Device, "devices:read")
        )
        named = {d.id: d for d in _targets(await session.execute(stmt))}
        missing = set(req.device_ids) - named.keys()
        if missing:
            raise NotFound(f"Device not found: {sorted(map(str, missing))[0]}", field="device_ids")
        for device in named.values():
            if device.decommissioned_at is not None:
                skipped.append(
                    SkippedDevice(
                        device_id=device.id, device_name=_name(device), reason="decommissioned"
                    )
                )
                continue
            _require_execute(
                actor,
                partner_id=device.partner_id,
                org_id=device.org_id,
                site_id=device.site_id,
            )
            found[device.id] = device
    sites = await _places(session, actor, Site, req.site_ids)
    orgs = await _places(session, actor, Organization, req.org_ids)
    for site in sites:
        _require_execute(actor, partner_id=site.partner_id, org_id=site.org_id, site_id=site.id)
    for org in orgs:
        _require_execute(actor, partner_id=org.partner_id, org_id=org.id)
    # A group reaches its members (404 for a group the actor cannot see).
    members = []
    for gid in dict.fromkeys(req.group_ids):
        group = await get_group(session, actor, gid, field="group_ids")
        _require_execute(
            actor, partner_id=group.partner_id, org_id=group.org_id, site_id=group.site_id
        )
        members.append(await group_device_ids_condition(session, actor, gid))
    if sites or orgs or members:
        reach = or_(
            Device.site_id.in_([s.id for s in sites]),
            Device.org_id.in_([o.id for o in orgs]),
            *members,
        )
        where = and_(
            reach,
            Device.decommissioned_at.is_(None),
            *[actor.condition(Device, p) for p in EXECUTE],
        )
        count = (
            await session.execute(select(func.count()).select_from(Device).where(where))
        ).scalar_one()
        if count > MAX_BATCH_DEVICES:
            raise TooManyDevices(int(count), MAX_BATCH_DEVICES)
        reached = select(*LAUNCH_COLUMNS).where(where)
        for device in _targets(await session.execute(reached)):
            found.setdefault(device.id, device)
    if len(found) > MAX_BATCH_DEVICES:
        raise TooManyDevices(len(found), MAX_BATCH_DEVICES)
    return sorted(found.values(), key=lambda d: (_name(d), str(d.id))), skipped


def _by_os(
    devices: Sequence[Target], os_types: Sequence[str]
) -> tuple[list[Target], list[SkippedDevice]]:
    ok, skipped = [], []
    for device in devices:
        if device.os_type in os_types:
            ok.append(device)
        else:
            reason = f"the script runs on {', '.join(os_types)}; this device runs {device.os_type}"
            skipped.append(
                SkippedDevice(device_id=device.id, device_name=_name(device), reason=reason)
            )
    return ok, skipped


async def _launch(
    uow: UnitOfWork,
    *,
    actor: Principal,
    settings: Settings,
    script: Script | ScriptVersion,
    script_id: uuid.UUID,
    version: int,
    devices: list[Target],
    skipped: list[SkippedDevice],
    values: dict[str, Any],
    targets: dict[str, Any],
    timeout_seconds: int,
    run_as: str | None,
    rerun_of: uuid.UUID | None = None,
    audit: bool = True,
    sockets: LocalSockets | None = None,
) -> Launched:
    partners = {d.partner_id for d in devices}
    if len(partners) > 1:
        raise InvalidInput("The targets must all belong to one partner", field="org_ids")
    orgs = {d.org_id for d in devices}
    secrets = secret_names(script.parameters)
    shown = redact(values, secrets)
    batch = ScriptBatch(
        id=uuid.uuid4(),
        partner_id=partners.pop(),
        org_id=next(iter(orgs)) if len(orgs) == 1 else None,
        script_id=script_id,
        script_version=version,
        script_name=script.name,
        parameters=shown,
        targets=targets,
        total=len(devices),
        trigger_type="manual",
        created_by_type=actor.actor.type,
        created_by_id=actor.actor.id,
        created_by_name=actor.actor.email,
        created_at=utcnow(),
    )
    uow.session.add(batch)
    await uow.session.flush()
    payload = {
        "language": script.language,
        "content": script.content,
        "env": to_env(values),
        "timeout_seconds": timeout_seconds,
        "run_as": run_as,
        "max_output_bytes": settings.commands.max_output_bytes,
        "script_id": str(script_id),
    }
    launched = await commands.queue_batch(
        uow,
        actor=actor,
        devices=devices,
        type="script",
        payload=payload,
        settings=settings,
        timeout_seconds=timeout_seconds,
        script_id=script_id,
        script_version=version,
        batch_id=batch.id,
        secret_names=secrets,
        rerun_of=rerun_of,
        permission="scripts:execute",
        sockets=sockets,
    )
    details: dict[str, Any] = {
        "batch_id": str(batch.id),
        "version": version,
        "devices": len(devices),
        "skipped": len(skipped),
        "parameters": shown,
        "targets": targets,
        "timeout_seconds": timeout_seconds,
        "run_as": run_as,
    }
    if rerun_of is not None:
        details["rerun_of"] = str(rerun_of)
    names = {d.id: _name(d) for d in devices}
    if not audit:  # the caller's own audit row covers it (bulk actions)
        return Launched(batch, launched, skipped, names)
    await record(
        uow.session,
        actor=actor.actor,
        action="script.execute",
        resource_type="script",
        resource_id=script_id,
        resource_name=script.name,
        partner_id=batch.partner_id,
        org_id=batch.org_id,
        details=details,
    )
    return Launched(batch, launched, skipped, names)


async def do_execute_script(
    uow: UnitOfWork,
    *,
    actor: Principal,
    settings: Settings,
    script_id: uuid.UUID,
    req: ExecuteRequest,
    audit: bool = True,
    sockets: LocalSockets | None = None,
) -> Launched:
    """One batch, one command per device. ``audit=False`` leaves the audit row to a caller
    that writes its own (a bulk action audits once, with the per-device results).
    `sockets`: this process's agent sockets, to push to straight after the commit."""
    script = await queries.get_script(uow.session, actor, script_id)
    devices, skipped = await resolve_devices(uow.session, actor, req)
    devices, wrong_os = _by_os(devices, script.os_types)
    skipped += wrong_os
    if not devices:
        raise NothingToRun(s.reason for s in skipped)
    values = validate_values(script.parameters, req.parameters)
    targets = {
        "device_ids": [str(i) for i in req.device_ids],
        "site_ids": [str(i) for i in req.site_ids],
        "org_ids": [str(i) for i in req.org_ids],
        "group_ids": [str(i) for i in req.group_ids],
    }
    return await _launch(
        uow,
        actor=actor,
        settings=settings,
        script=script,
        script_id=script.id,
        version=script.version,
        devices=devices,
        skipped=skipped,
        values=values,
        targets=targets,
        timeout_seconds=req.timeout_seconds or script.timeout_seconds,
        run_as=req.run_as if "run_as" in req.model_fields_set else script.run_as,
        audit=audit,
        sockets=sockets,
    )


async def get_execution(
    session: AsyncSession,
    actor: Principal,
    execution_id: uuid.UUID,
    permission: str = "devices:read",
) -> DeviceCommand:
    """A script execution (a command of type script) the actor may see, else 404."""
    try:
        cmd = await command_queries.get_command(session, actor, execution_id, permission=permission)
    except CommandNotFound:
        raise ExecutionNotFound() from None
    if cmd.type != "script":
        raise ExecutionNotFound()
    return cmd


async def do_rerun_execution(
    uow: UnitOfWork,
    *,
    actor: Principal,
    settings: Settings,
    execution_id: uuid.UUID,
    req: RerunRequest,
) -> Launched:
    """Run the same script version with the same parameters on the same device again.
    Secret values are not kept, so the request gives them again."""
    session = uow.session
    original = await get_execution(session, actor, execution_id)
    if original.script_id is None or original.script_version is None:
        raise ScriptDeleted()
    script = await session.get(Script, original.script_id)
    if script is None or script.deleted_at is not None:
        raise ScriptDeleted()
    await queries.get_script(session, actor, script.id)  # still visible to this actor
    version = await queries.version_row(session, script.id, original.script_version)
    if version is None:
        raise ScriptDeleted()
    device = await session.get(Device, original.device_id)
    if device is None or device.decommissioned_at is not None:
        raise InvalidInput("The device of this execution is decommissioned", field="device_id")
    _require_execute(
        actor, partner_id=device.partner_id, org_id=device.org_id, site_id=device.site_id
    )
    secrets = set(secret_names(version.parameters))
    extra = sorted(set(req.parameters) - secrets)
    if extra:
        raise InvalidInput(
            "A rerun uses the original values; only secret parameters are given again",
            field=f"parameters.{extra[0]}",
        )
    batch = await session.get(ScriptBatch, original.batch_id) if original.batch_id else None
    earlier = dict(batch.parameters) if batch else dict((original.payload or {}).get("env") or {})
    # The secrets the original run had (an optional one it went without is not needed).
    needed = secrets & (set(earlier) | set(version.parameters.get("required") or []))
    missing = needed - {k for k, v in req.parameters.items() if v is not None}
    if missing:
        raise SecretsRequired(missing)
    merged = {k: v for k, v in earlier.items() if k not in secrets} | req.parameters
    values = validate_values(version.parameters, merged)
    payload = original.payload or {}
    return await _launch(
        uow,
        actor=actor,
        settings=settings,
        script=version,
        script_id=script.id,
        version=version.version,
        devices=[Target.of(device)],
        skipped=[],
        values=values,
        targets={"device_ids": [str(device.id)], "rerun_of": str(original.id)},
        timeout_seconds=original.timeout_seconds,
        run_as=payload.get("run_as"),
        rerun_of=original.id,
    )


async def do_cancel_execution(
    uow: UnitOfWork, *, actor: Principal, execution_id: uuid.UUID
) -> DeviceCommand:
    await get_execution(uow.session, actor, execution_id)
    return await commands.do_cancel_command(
        uow, actor=actor, command_id=execution_id, permission="scripts:execute"
    )
