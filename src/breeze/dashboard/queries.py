"""Reads of the dashboard: each panel's figures in a few SQL statements (GROUP BY, LIMIT),
all through restrict() and limited to the console's scope.

The device figures come from the devices domain's queries; the audit panel from the audit
domain's `visible()`; the failing script runs from the commands domain's
`failed_script_runs()`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from breeze.audit.models import AuditLog
from breeze.audit.queries import visible as visible_audit
from breeze.commands.queries import failed_script_runs
from breeze.core.principal import Principal
from breeze.db.base import utcnow
from breeze.devices import console_queries as devices
from breeze.devices.console_queries import Place, RecentChange
from breeze.devices.models import Device
from breeze.scripts.queries import device_names, script_names

# Always shown, even at zero, so a new install reads "0 online, 0 offline".
KNOWN_STATUSES = ("online", "offline")
FAILURE_WINDOW = timedelta(hours=24)


@dataclass
class DeviceSummary:
    total: int
    by_status: list[tuple[str, int]]
    by_os: list[tuple[str, int]]
    pending_reboot: int
    offline: list[Device]


async def device_summary(
    session: AsyncSession, principal: Principal, place: Place, offline_limit: int = 8
) -> DeviceSummary:
    statuses = await devices.count_by(session, principal, place, "status")
    for name in KNOWN_STATUSES:
        statuses.setdefault(name, 0)
    by_os = await devices.count_by(session, principal, place, "os_type")
    order = {name: i for i, name in enumerate(KNOWN_STATUSES)}
    return DeviceSummary(
        total=sum(statuses.values()),
        by_status=sorted(statuses.items(), key=lambda kv: (order.get(kv[0], 99), kv[0])),
        by_os=sorted(by_os.items(), key=lambda kv: (-kv[1], kv[0])),
        pending_reboot=await devices.pending_reboot_count(session, principal, place),
        offline=await devices.offline_devices(session, principal, place, offline_limit),
    )


async def recent_changes(
    session: AsyncSession, principal: Principal, place: Place, limit: int = 8
) -> list[RecentChange]:
    return await devices.recent_changes(session, principal, place, limit)


async def recent_activity(
    session: AsyncSession, principal: Principal, place: Place, limit: int = 8
) -> list[AuditLog]:
    """The newest audit rows the principal may read (audit:read) in the place. Audit rows
    carry a partner and an organization, not a site: a site scope shows its organization."""
    stmt = visible_audit(principal)
    if place.partner_id is not None:
        stmt = stmt.where(AuditLog.partner_id == place.partner_id)
    if place.org_id is not None:
        stmt = stmt.where(AuditLog.org_id == place.org_id)
    stmt = stmt.order_by(AuditLog.timestamp.desc(), AuditLog.id).limit(limit)
    return list((await session.execute(stmt)).scalars())


@dataclass
class FailedRun:
    id: uuid.UUID
    status: str
    device_id: uuid.UUID
    device_name: str
    script_name: str
    batch_id: uuid.UUID | None
    exit_code: int | None
    error: str | None
    when: datetime | None


@dataclass
class FailingRuns:
    last_day: int
    runs: list[FailedRun] = field(default_factory=list)


async def failing_runs(
    session: AsyncSession, principal: Principal, place: Place, limit: int = 8
) -> FailingRuns:
    """Script executions that failed or timed out: how many in the last 24 hours, and the
    newest few (any age) with their script and device."""
    last_day, rows = await failed_script_runs(
        session,
        principal,
        since=utcnow() - FAILURE_WINDOW,
        limit=limit,
        partner_id=place.partner_id,
        org_id=place.org_id,
        site_id=place.site_id,
    )
    scripts = await script_names(session, (r.script_id for r in rows))
    names = await device_names(session, (r.device_id for r in rows))
    return FailingRuns(
        last_day=last_day,
        runs=[
            FailedRun(
                id=r.id,
                status=r.status,
                device_id=r.device_id,
                device_name=names.get(r.device_id, "a removed device"),
                script_name=scripts.get(r.script_id, "a deleted script")
                if r.script_id
                else str(r.payload.get("name") or "an ad-hoc script"),
                batch_id=r.batch_id,
                exit_code=r.exit_code,
                error=r.error,
                when=r.completed_at or r.created_at,
            )
            for r in rows
        ],
    )
