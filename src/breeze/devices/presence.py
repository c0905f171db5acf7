"""Presence: heartbeats keep a device online, the offline sweep marks silent ones offline.

Both run as a handful of set-based statements so they stay cheap with many devices
and safe with several servers and workers on PostgreSQL: the sweep flips a device
only while it is still online and still silent (re-checked under the row lock),
and a heartbeat flush revives only devices that are offline at that moment, so
each transition is reported exactly once. Events are published by the caller
after commit (`device.offline`, `device.online`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, cast

from sqlalchemy import ColumnElement, Table, bindparam, func, literal, or_, update
from sqlalchemy.ext.asyncio import AsyncSession

from breeze.db.sql import is_postgresql, one_of
from breeze.devices.models import Device

ONLINE = "online"
OFFLINE = "offline"


class SeenBeat(Protocol):
    """What a heartbeat tells about its device (metrics are stored elsewhere)."""

    @property
    def device_id(self) -> uuid.UUID: ...
    @property
    def received_at(self) -> datetime: ...
    @property
    def agent_version(self) -> str: ...
    @property
    def pending_reboot(self) -> bool: ...
    @property
    def last_user(self) -> str | None: ...
    @property
    def uptime_seconds(self) -> int: ...


@dataclass(frozen=True)
class PresenceChange:
    device_id: uuid.UUID
    org_id: uuid.UUID
    partner_id: uuid.UUID
    last_seen_at: datetime | None

    def event(self) -> dict[str, Any]:
        return {
            "device_id": str(self.device_id),
            "org_id": str(self.org_id),
            "partner_id": str(self.partner_id),
            "last_seen_at": self.last_seen_at.isoformat() if self.last_seen_at else None,
        }


def _latest(beats: Sequence[SeenBeat]) -> dict[uuid.UUID, SeenBeat]:
    latest: dict[uuid.UUID, SeenBeat] = {}
    for beat in beats:
        seen = latest.get(beat.device_id)
        if seen is None or beat.received_at > seen.received_at:
            latest[beat.device_id] = beat
    return latest


async def apply_heartbeats(session: AsyncSession, beats: Sequence[SeenBeat]) -> list[uuid.UUID]:
    """Write last-seen, agent version, reboot flag, last user and uptime of each device
    from its newest beat; return the devices this brought back online."""
    latest = _latest(beats)
    if not latest:
        return []
    ids = sorted(latest)  # a stable lock order between concurrent flushes
    revived = await session.execute(
        update(Device)
        .where(
            one_of(session, Device.id, ids),
            Device.status == OFFLINE,
            Device.decommissioned_at.is_(None),
        )
        .values(status=ONLINE)
        .returning(Device.id)
        .execution_options(synchronize_session=False)
    )
    came_online = [row[0] for row in revived]
    table = cast(Table, Device.__table__)
    await session.execute(
        update(table)
        .where(
            table.c.id == bindparam("b_id"),
            table.c.decommissioned_at.is_(None),
            or_(table.c.last_seen_at.is_(None), table.c.last_seen_at < bindparam("b_seen")),
        )
        .values(
            last_seen_at=bindparam("b_seen"),
            agent_version=bindparam("b_version"),
            pending_reboot=bindparam("b_reboot"),
            last_user=bindparam("b_user"),
            uptime_seconds=bindparam("b_uptime"),
        ),
        [
            {
                "b_id": device_id,
                "b_seen": latest[device_id].received_at,
                "b_version": latest[device_id].agent_version,
                "b_reboot": latest[device_id].pending_reboot,
                "b_user": latest[device_id].last_user,
                "b_uptime": latest[device_id].uptime_seconds,
            }
            for device_id in ids
        ],
    )
    return came_online


def _silent_too_long(session: AsyncSession, now: datetime, missed: int) -> ColumnElement[bool]:
    """last_seen_at < now - missed x the device's own heartbeat interval."""
    seconds = Device.heartbeat_interval_seconds * missed
    if is_postgresql(session):
        limit = literal(now, Device.last_seen_at.type) - func.make_interval(
            0, 0, 0, 0, 0, 0, seconds
        )
        return Device.last_seen_at < limit
    now_days = func.julianday(literal(now, Device.last_seen_at.type))
    return func.julianday(Device.last_seen_at) < now_days - seconds / 86400.0


async def sweep_offline(
    session: AsyncSession, *, now: datetime, missed: int
) -> list[PresenceChange]:
    """Mark offline, in one statement, every online device silent for `missed` intervals.

    Decommissioned devices are never touched. On SQLite the write transaction holds
    the database lock from its start; on PostgreSQL the UPDATE re-checks each row it
    waited for, so several workers never report the same device twice.
    """
    result = await session.execute(
        update(Device)
        .where(
            Device.status == ONLINE,
            Device.decommissioned_at.is_(None),
            Device.last_seen_at.is_not(None),
            _silent_too_long(session, now, missed),
        )
        .values(status=OFFLINE)
        .returning(Device.id, Device.org_id, Device.partner_id, Device.last_seen_at)
        .execution_options(synchronize_session=False)
    )
    return [
        PresenceChange(device_id=r[0], org_id=r[1], partner_id=r[2], last_seen_at=r[3])
        for r in result.all()
    ]
