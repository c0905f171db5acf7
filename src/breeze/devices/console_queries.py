"""Reads behind the console's device list and dashboard: rows with their site's name,
live states, counts by status or OS, offline devices and recent changes. Each starts from
restrict(devices:read) like every device read."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from breeze.core.pagination import ListParams, ListSpec
from breeze.core.principal import Principal, restrict
from breeze.devices.models import Device, DeviceChange
from breeze.devices.queries import DEVICE_LIST, filtered_devices


def _columns(*columns: Any) -> Select[Any]:
    return select(*columns)


@dataclasses.dataclass(frozen=True)
class Place:
    """A console scope (partner, organization, site) as device conditions."""

    partner_id: uuid.UUID | None = None
    org_id: uuid.UUID | None = None
    site_id: uuid.UUID | None = None

    def apply(self, stmt: Select[Any], model: Any = Device) -> Select[Any]:
        if self.partner_id is not None:
            stmt = stmt.where(model.partner_id == self.partner_id)
        if self.org_id is not None:
            stmt = stmt.where(model.org_id == self.org_id)
        if self.site_id is not None and hasattr(model, "site_id"):
            stmt = stmt.where(model.site_id == self.site_id)
        return stmt


def _site_table() -> Any:
    # The tenancy domain's table, joined only for the site's name (as the export does).
    from breeze.tenancy.models import Site

    return Site


def _console_spec() -> ListSpec:
    return dataclasses.replace(
        DEVICE_LIST, sortable={**DEVICE_LIST.sortable, "site": _site_table().name}
    )


async def list_devices_with_sites(
    session: AsyncSession, principal: Principal, params: ListParams
) -> tuple[list[tuple[Device, str | None]], int]:
    """The device list (same filters, search and total as ``list_devices``) with each
    device's site name, sortable by site as well."""
    from breeze.core.pagination import apply_list, order_by

    site = _site_table()
    stmt, rest = await filtered_devices(session, principal, params)
    stmt = apply_list(stmt, rest, DEVICE_LIST)
    total = (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    stmt = stmt.outerjoin(site, site.id == Device.site_id).add_columns(site.name)
    stmt = order_by(stmt, params.sort, _console_spec(), Device.id)
    stmt = stmt.limit(params.per_page).offset((params.page - 1) * params.per_page)
    rows = [(device, name) for device, name in (await session.execute(stmt)).tuples()]
    return rows, int(total)


@dataclasses.dataclass(frozen=True)
class DeviceState:
    id: uuid.UUID
    status: str
    last_seen_at: datetime | None
    pending_reboot: bool


async def device_states(
    session: AsyncSession, principal: Principal, ids: list[uuid.UUID]
) -> list[DeviceState]:
    """Status, last seen and pending reboot of these devices (the visible ones)."""
    if not ids:
        return []
    columns = _columns(Device.id, Device.status, Device.last_seen_at, Device.pending_reboot)
    stmt = restrict(columns, principal, "devices:read", Device).where(Device.id.in_(ids))
    return [DeviceState(*row) for row in (await session.execute(stmt)).tuples()]


async def device_labels(
    session: AsyncSession, principal: Principal, ids: list[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """Display name (or host name) of these devices, the visible ones only."""
    if not ids:
        return {}
    columns = _columns(Device.id, Device.display_name, Device.hostname)
    stmt = restrict(columns, principal, "devices:read", Device).where(Device.id.in_(ids))
    return {i: display or host for i, display, host in (await session.execute(stmt)).tuples()}


async def count_by(
    session: AsyncSession, principal: Principal, place: Place, column: str
) -> dict[str, int]:
    """Live devices in the place per value of `column` (status or os_type): GROUP BY."""
    col = {"status": Device.status, "os_type": Device.os_type}[column]
    columns = _columns(col, func.count())
    stmt = restrict(columns, principal, "devices:read", Device)
    stmt = place.apply(stmt.where(Device.decommissioned_at.is_(None))).group_by(col)
    return {str(value): int(n) for value, n in (await session.execute(stmt)).tuples()}


async def pending_reboot_count(session: AsyncSession, principal: Principal, place: Place) -> int:
    stmt = restrict(select(func.count()).select_from(Device), principal, "devices:read", Device)
    stmt = place.apply(stmt.where(Device.decommissioned_at.is_(None), Device.pending_reboot))
    return int((await session.execute(stmt)).scalar_one())


async def offline_devices(
    session: AsyncSession, principal: Principal, place: Place, limit: int
) -> list[Device]:
    """Offline live devices, the most recently lost first (never seen last)."""
    stmt = restrict(select(Device), principal, "devices:read", Device)
    stmt = place.apply(stmt.where(Device.decommissioned_at.is_(None), Device.status == "offline"))
    stmt = stmt.order_by(Device.last_seen_at.desc().nulls_last(), Device.id).limit(limit)
    return list((await session.execute(stmt)).scalars())


@dataclasses.dataclass(frozen=True)
class RecentChange:
    change: DeviceChange
    device_name: str


async def recent_changes(
    session: AsyncSession, principal: Principal, place: Place, limit: int
) -> list[RecentChange]:
    """The newest inventory changes of devices in the place (first baselines left out)."""
    columns = _columns(DeviceChange, Device.display_name, Device.hostname)
    stmt = restrict(columns, principal, "devices:read", DeviceChange).join(
        Device, Device.id == DeviceChange.device_id
    )
    stmt = place.apply(stmt, DeviceChange)
    if place.site_id is not None:
        stmt = stmt.where(Device.site_id == place.site_id)
    stmt = stmt.where(DeviceChange.change_type != "baseline")
    stmt = stmt.order_by(DeviceChange.timestamp.desc(), DeviceChange.id).limit(limit)
    return [
        RecentChange(change, display or host)
        for change, display, host in (await session.execute(stmt)).tuples()
    ]
