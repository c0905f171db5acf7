"""Reads of devices, their inventory and history; every one starts from restrict()."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Select, exists, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from breeze.core.errors import InvalidInput
from breeze.core.pagination import Filter, ListParams, ListSpec, escape_like, paginate
from breeze.core.principal import Principal, fetch_visible, restrict
from breeze.db.base import utcnow
from breeze.db.sql import is_postgresql
from breeze.devices.errors import DeviceNotFound
from breeze.devices.filters import (
    CUSTOM_FIELD_HELP,
    custom_field_condition,
    group_condition,
    parse_instant,
)
from breeze.devices.inventory import META
from breeze.devices.models import (
    Device,
    DeviceChange,
    DeviceDisk,
    DeviceHardware,
    DeviceInventorySection,
    DeviceNetwork,
    DeviceSoftware,
)
from breeze.devices.schemas import (
    AddressOut,
    DeviceDetail,
    DeviceOut,
    DisksOut,
    FilesystemOut,
    HardwareOut,
    HardwareSummary,
    InterfaceOut,
    InventoryStatus,
    NetworkOut,
    OsSummary,
)
from breeze.devices.sql import json_array_contains

DEVICE_LIST = ListSpec(
    sortable={
        "hostname": Device.hostname,
        "display_name": func.coalesce(Device.display_name, Device.hostname),
        "status": Device.status,
        "os_type": Device.os_type,
        "os_version": Device.os_version,
        "last_seen_at": Device.last_seen_at,
        "enrolled_at": Device.enrolled_at,
        "agent_version": Device.agent_version,
    },
    default_sort="hostname",
    filters={
        "partner_id": Filter(Device.partner_id, uuid.UUID),
        "org_id": Filter(Device.org_id, uuid.UUID),
        "site_id": Filter(Device.site_id, uuid.UUID),
        "status": Filter(
            Device.status,
            description="Only devices in one of these states (comma-separated); "
            "decommissioned devices are listed only when asked for here",
        ),
        "os_type": Filter(Device.os_type),
        "tag": Filter(Device.tags, description="Only devices carrying one of these tags"),
        "group_id": Filter(
            Device.id, uuid.UUID, description="Only members of one of these device groups"
        ),
        "custom_field": Filter(Device.custom_fields, description=CUSTOM_FIELD_HELP),
        "has_pending_reboot": Filter(
            Device.pending_reboot, bool, description="true: only devices waiting for a reboot"
        ),
        "last_seen_after": Filter(
            Device.last_seen_at,
            description="Only devices last seen at or after this instant (ISO 8601)",
        ),
        "last_seen_before": Filter(
            Device.last_seen_at,
            description="Only devices last seen before this instant (ISO 8601); devices "
            "never seen are left out",
        ),
    },
    time_column=Device.created_at,
)
# Filters list_devices applies itself (the others are "column IN (values)").
SPECIAL_FILTERS = frozenset(
    {"tag", "group_id", "custom_field", "last_seen_after", "last_seen_before"}
)

SOFTWARE_LIST = ListSpec(
    sortable={
        "name": DeviceSoftware.name,
        "version": DeviceSoftware.version,
        "publisher": DeviceSoftware.publisher,
        "install_date": DeviceSoftware.install_date,
        "source": DeviceSoftware.source,
        "is_system": DeviceSoftware.is_system,
    },
    default_sort="name",
    searchable=(DeviceSoftware.name, DeviceSoftware.publisher),
    filters={
        "source": Filter(DeviceSoftware.source),
        "is_system": Filter(DeviceSoftware.is_system, bool),
    },
)

CHANGE_LIST = ListSpec(
    sortable={
        "timestamp": DeviceChange.timestamp,
        "category": DeviceChange.category,
        "change_type": DeviceChange.change_type,
        "subject": DeviceChange.subject,
    },
    default_sort="-timestamp",
    searchable=(DeviceChange.subject,),
    filters={
        "category": Filter(
            DeviceChange.category,
            description="software, hardware, network, os, disks, users, remote_access, inventory",
        ),
        "change_type": Filter(
            DeviceChange.change_type, description="added, removed, updated, changed, baseline"
        ),
    },
    time_column=DeviceChange.timestamp,
)


def _search(q: str) -> Any:
    pattern = f"%{escape_like(q.lower())}%"

    def like(col: Any) -> Any:
        return func.lower(col).like(pattern, escape="\\")

    by_address = exists(
        select(DeviceNetwork.id).where(
            DeviceNetwork.device_id == Device.id, like(DeviceNetwork.ip_address)
        )
    )
    return or_(
        like(Device.hostname),
        like(Device.display_name),
        like(Device.primary_ip),
        like(Device.serial_number),
        by_address,
    )


async def filtered_devices(
    session: AsyncSession,
    principal: Principal,
    params: ListParams,
    permission: str = "devices:read",
) -> tuple[Select[Any], ListParams]:
    """The device list's statement with the special filters applied, and the parameters
    left for ``paginate``/``apply_list`` (plain column filters, sort, time range)."""
    stmt = restrict(select(Device), principal, permission, Device)
    filters = params.filters
    if "decommissioned" not in filters.get("status", []):
        stmt = stmt.where(Device.decommissioned_at.is_(None))
    tags = [str(t).lower() for t in filters.get("tag", [])]
    if tags:
        stmt = stmt.where(or_(*[json_array_contains(Device.tags, t) for t in tags]))
    if filters.get("group_id"):
        stmt = stmt.where(await group_condition(session, principal, filters["group_id"]))
    if filters.get("custom_field"):
        terms = [str(t) for t in filters["custom_field"]]
        orgs = filters.get("org_id")
        stmt = stmt.where(await custom_field_condition(session, principal, terms, orgs))
    for name, op in (("last_seen_after", "ge"), ("last_seen_before", "lt")):
        given = filters.get(name) or []
        if len(given) > 1:
            raise InvalidInput("give one instant", field=name)
        if given:
            instant = parse_instant(given[0], name)
            stmt = stmt.where(
                Device.last_seen_at >= instant if op == "ge" else Device.last_seen_at < instant
            )
    if params.q:
        stmt = stmt.where(_search(params.q))
    rest = dataclasses.replace(
        params,
        q=None,
        filters={k: v for k, v in filters.items() if k not in SPECIAL_FILTERS},
    )
    return stmt, rest


async def list_devices(
    session: AsyncSession, principal: Principal, params: ListParams
) -> tuple[list[Device], int]:
    stmt, rest = await filtered_devices(session, principal, params)
    return await paginate(session, stmt, rest, DEVICE_LIST, Device.id)


async def tag_counts(
    session: AsyncSession, principal: Principal, org_ids: list[uuid.UUID]
) -> list[tuple[str, int]]:
    """The tags on live devices in reach, with how many devices carry each."""
    fn = "jsonb_array_elements_text" if is_postgresql(session) else None
    each = (
        getattr(func, fn)(Device.tags).table_valued("value")
        if fn
        else func.json_each(Device.tags).table_valued("value")
    )
    stmt = restrict(
        select(each.c.value, func.count()).select_from(Device).join(each, true()),
        principal,
        "devices:read",
        Device,
    ).where(Device.decommissioned_at.is_(None))
    if org_ids:
        stmt = stmt.where(Device.org_id.in_(org_ids))
    stmt = stmt.group_by(each.c.value).order_by(func.count().desc(), each.c.value)
    return [(str(tag), int(n)) for tag, n in (await session.execute(stmt)).all()]


async def get_device(
    session: AsyncSession,
    principal: Principal,
    device_id: uuid.UUID,
    permission: str = "devices:read",
) -> Device:
    """A device the principal may `permission` (decommissioned ones included), else 404."""
    device = await fetch_visible(session, principal, permission, Device, device_id)
    if device is None:
        raise DeviceNotFound()
    return device


async def sections(
    session: AsyncSession, device_id: uuid.UUID, *names: str
) -> dict[str, DeviceInventorySection]:
    stmt = select(DeviceInventorySection).where(DeviceInventorySection.device_id == device_id)
    if names:
        stmt = stmt.where(DeviceInventorySection.section.in_(names))
    return {r.section: r for r in (await session.execute(stmt)).scalars()}


def _stamp(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


async def device_detail(
    session: AsyncSession, principal: Principal, device_id: uuid.UUID
) -> DeviceDetail:
    device = await get_device(session, principal, device_id)
    hw = await session.get(DeviceHardware, device.id)
    stored = await sections(session, device.id)
    os_data = stored["os"].data if "os" in stored else None
    meta = stored[META].data if META in stored else {}
    out = DeviceOut.model_validate(device).model_dump()
    boot = _stamp(os_data.get("boot_time")) if os_data else None
    if out["uptime_seconds"] is None and boot is not None:
        out["uptime_seconds"] = max(0, int((utcnow() - boot).total_seconds()))
    return DeviceDetail(
        **out,
        hardware=HardwareSummary.model_validate(hw, from_attributes=True) if hw else None,
        os=OsSummary.model_validate(
            {k: v for k, v in os_data.items() if k in OsSummary.model_fields}
        )
        if os_data
        else None,
        inventory=InventoryStatus(
            last_inventory_at=_stamp(meta.get("last_inventory_at")),
            agent_version=meta.get("agent_version"),
            sections={name: row.updated_at for name, row in stored.items() if name != META},
            errors=meta.get("errors") or {},
        ),
    )


async def hardware(
    session: AsyncSession, principal: Principal, device_id: uuid.UUID
) -> HardwareOut:
    device = await get_device(session, principal, device_id)
    row = await session.get(DeviceHardware, device.id)
    if row is None:
        return HardwareOut()
    raw = (await sections(session, device.id, "hardware")).get("hardware")
    data = raw.data if raw else {}
    return HardwareOut.model_validate(
        {
            **{c: getattr(row, c) for c in HardwareOut.model_fields if hasattr(row, c)},
            "architecture": data.get("architecture") or device.architecture or None,
            "is_virtual": data.get("is_virtual"),
            "virtualization_type": data.get("virtualization_type"),
            "unavailable": data.get("unavailable") or {},
            "updated_at": row.updated_at,
        }
    )


async def list_software(
    session: AsyncSession, principal: Principal, device_id: uuid.UUID, params: ListParams
) -> tuple[list[DeviceSoftware], int]:
    device = await get_device(session, principal, device_id)
    stmt = select(DeviceSoftware).where(DeviceSoftware.device_id == device.id)
    return await paginate(session, stmt, params, SOFTWARE_LIST, DeviceSoftware.id)


async def network(session: AsyncSession, principal: Principal, device_id: uuid.UUID) -> NetworkOut:
    device = await get_device(session, principal, device_id)
    rows = (
        await session.execute(
            select(DeviceNetwork)
            .where(DeviceNetwork.device_id == device.id)
            .order_by(DeviceNetwork.interface_name, DeviceNetwork.ip_type, DeviceNetwork.ip_address)
        )
    ).scalars()
    raw = (await sections(session, device.id, "network")).get("network")
    data = raw.data if raw else {}
    extra = {i["interface_name"]: i for i in data.get("interfaces") or []}
    interfaces: dict[str, InterfaceOut] = {}
    for row in rows:
        iface = interfaces.get(row.interface_name)
        if iface is None:
            more = extra.get(row.interface_name, {})
            iface = interfaces[row.interface_name] = InterfaceOut(
                interface_name=row.interface_name,
                mac_address=row.mac_address,
                is_primary=row.is_primary,
                is_up=more.get("is_up"),
                is_loopback=more.get("is_loopback"),
                link_type=more.get("link_type"),
                mtu=more.get("mtu"),
                addresses=[],
            )
        if row.ip_address is not None:
            iface.addresses.append(
                AddressOut(
                    ip_address=row.ip_address, ip_type=row.ip_type, prefix_length=row.prefix_length
                )
            )
    return NetworkOut(
        primary_ip=device.primary_ip,
        primary_interface=data.get("primary_interface"),
        default_gateway_ipv4=data.get("default_gateway_ipv4"),
        default_gateway_ipv6=data.get("default_gateway_ipv6"),
        dns_servers=data.get("dns_servers") or [],
        dns_search=data.get("dns_search") or [],
        interfaces=list(interfaces.values()),
        updated_at=raw.updated_at if raw else None,
    )


async def disks(session: AsyncSession, principal: Principal, device_id: uuid.UUID) -> DisksOut:
    device = await get_device(session, principal, device_id)
    rows = (
        await session.execute(
            select(DeviceDisk)
            .where(DeviceDisk.device_id == device.id)
            .order_by(DeviceDisk.mountpoint)
        )
    ).scalars()
    raw = (await sections(session, device.id, "disks")).get("disks")
    return DisksOut(
        filesystems=[FilesystemOut.model_validate(r) for r in rows],
        physical_disks=(raw.data.get("block_devices") or []) if raw else [],
        updated_at=raw.updated_at if raw else None,
    )


async def list_changes(
    session: AsyncSession, principal: Principal, device_id: uuid.UUID, params: ListParams
) -> tuple[list[DeviceChange], int]:
    device = await get_device(session, principal, device_id)
    stmt = restrict(select(DeviceChange), principal, "devices:read", DeviceChange).where(
        DeviceChange.device_id == device.id
    )
    return await paginate(session, stmt, params, CHANGE_LIST, DeviceChange.id)
