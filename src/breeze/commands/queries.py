"""Reads of device commands; every console read starts from restrict()."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from breeze.commands.errors import CommandNotFound
from breeze.commands.models import CommandOutputChunk, DeviceCommand
from breeze.core.pagination import Filter, ListParams, ListSpec, paginate
from breeze.core.principal import Principal, restrict

COMMAND_LIST = ListSpec(
    sortable={
        "created_at": DeviceCommand.created_at,
        "completed_at": DeviceCommand.completed_at,
        "status": DeviceCommand.status,
        "type": DeviceCommand.type,
    },
    default_sort="-created_at",
    filters={
        "status": Filter(
            DeviceCommand.status,
            description="pending, sent, running, completed, failed, timeout, cancelled",
        ),
        "type": Filter(
            DeviceCommand.type,
            description="script, reboot, shutdown, collect_inventory, update_agent",
        ),
        "device_id": Filter(DeviceCommand.device_id, uuid.UUID),
        "script_id": Filter(DeviceCommand.script_id, uuid.UUID),
        "batch_id": Filter(DeviceCommand.batch_id, uuid.UUID),
        "trigger_type": Filter(DeviceCommand.trigger_type),
    },
    time_column=DeviceCommand.created_at,
)

# One device's history (the device is in the URL, so no device_id filter).
DEVICE_COMMAND_LIST = dataclasses.replace(
    COMMAND_LIST, filters={k: v for k, v in COMMAND_LIST.filters.items() if k != "device_id"}
)


async def list_commands(
    session: AsyncSession,
    principal: Principal,
    params: ListParams,
    *,
    device_id: uuid.UUID | None = None,
    type: str | None = None,
) -> tuple[Sequence[DeviceCommand], int]:
    """Commands the principal may read (devices:read), newest first by default."""
    stmt = restrict(select(DeviceCommand), principal, "devices:read", DeviceCommand)
    if device_id is not None:
        stmt = stmt.where(DeviceCommand.device_id == device_id)
    if type is not None:
        stmt = stmt.where(DeviceCommand.type == type)
    return await paginate(session, stmt, params, COMMAND_LIST, DeviceCommand.id)


async def get_command(
    session: AsyncSession,
    principal: Principal,
    command_id: uuid.UUID,
    *,
    device_id: uuid.UUID | None = None,
    permission: str = "devices:read",
) -> DeviceCommand:
    """The command if visible to the principal (and of `device_id` when given), else 404."""
    stmt = restrict(select(DeviceCommand), principal, permission, DeviceCommand).where(
        DeviceCommand.id == command_id
    )
    if device_id is not None:
        stmt = stmt.where(DeviceCommand.device_id == device_id)
    cmd = (await session.execute(stmt)).scalar_one_or_none()
    if cmd is None:
        raise CommandNotFound()
    return cmd


async def command_of_device(
    session: AsyncSession, command_id: uuid.UUID, device_id: uuid.UUID, *, lock: bool = False
) -> DeviceCommand:
    """For the agent gateway: the command if it belongs to this device, else 404."""
    stmt = select(DeviceCommand).where(
        DeviceCommand.id == command_id, DeviceCommand.device_id == device_id
    )
    if lock:
        stmt = stmt.with_for_update()  # ignored by SQLite, whose write lock covers it
    cmd = (await session.execute(stmt)).scalar_one_or_none()
    if cmd is None:
        raise CommandNotFound()
    return cmd


async def commands_by_id(
    session: AsyncSession, command_ids: Sequence[uuid.UUID], *, lock: bool = False
) -> dict[uuid.UUID, DeviceCommand]:
    """For batched agent reports: the commands of these ids (whichever device they are
    of: the caller checks). Locked in id order, so two batches never wait on each other
    in a cycle."""
    stmt = select(DeviceCommand).where(DeviceCommand.id.in_(set(command_ids)))
    if lock:
        stmt = stmt.order_by(DeviceCommand.id).with_for_update()
    return {cmd.id: cmd for cmd in (await session.execute(stmt)).scalars()}


async def status_counts(
    session: AsyncSession, batch_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, dict[str, int]]:
    """Per batch, how many of its commands are in each state (states with none left out)."""
    if not batch_ids:
        return {}
    rows = await session.execute(
        select(DeviceCommand.batch_id, DeviceCommand.status, func.count())
        .where(DeviceCommand.batch_id.in_(list(batch_ids)))
        .group_by(DeviceCommand.batch_id, DeviceCommand.status)
    )
    counts: dict[uuid.UUID, dict[str, int]] = {b: {} for b in batch_ids}
    for batch_id, status, n in rows:
        if batch_id is not None:
            counts.setdefault(batch_id, {})[status] = int(n)
    return counts


async def output_chunks(session: AsyncSession, command_id: uuid.UUID) -> list[CommandOutputChunk]:
    """Output stored so far for a running command, in order."""
    rows = await session.execute(
        select(CommandOutputChunk)
        .where(CommandOutputChunk.command_id == command_id)
        .order_by(CommandOutputChunk.seq)
    )
    return list(rows.scalars())


async def failed_script_runs(
    session: AsyncSession,
    principal: Principal,
    *,
    since: datetime,
    limit: int,
    partner_id: uuid.UUID | None = None,
    org_id: uuid.UUID | None = None,
    site_id: uuid.UUID | None = None,
) -> tuple[int, list[DeviceCommand]]:
    """Script commands that failed or timed out in reach: how many since `since`, and the
    newest `limit` of any age (the dashboard's "failing script runs")."""
    base = restrict(select(DeviceCommand), principal, "devices:read", DeviceCommand).where(
        DeviceCommand.type == "script", DeviceCommand.status.in_(("failed", "timeout"))
    )
    for column, value in (
        (DeviceCommand.partner_id, partner_id),
        (DeviceCommand.org_id, org_id),
        (DeviceCommand.site_id, site_id),
    ):
        if value is not None:
            base = base.where(column == value)
    counted = base.where(DeviceCommand.created_at >= since).with_only_columns(func.count())
    total = int((await session.execute(counted)).scalar_one())
    newest = base.order_by(DeviceCommand.created_at.desc(), DeviceCommand.id).limit(limit)
    return total, list((await session.execute(newest)).scalars())
