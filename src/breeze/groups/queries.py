"""Reads of device groups and their members; every one starts from restrict()."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from breeze.core.pagination import Filter, ListParams, ListSpec, paginate
from breeze.core.principal import Principal, fetch_visible, restrict
from breeze.customfields.queries import definitions_for_org
from breeze.devices.models import Device
from breeze.groups.errors import GroupNotFound
from breeze.groups.models import DeviceGroup, DeviceGroupMember
from breeze.groups.schemas import GroupOut, MemberOut

GROUP_LIST = ListSpec(
    sortable={
        "name": DeviceGroup.name,
        "type": DeviceGroup.type,
        "created_at": DeviceGroup.created_at,
        "updated_at": DeviceGroup.updated_at,
        "evaluated_at": DeviceGroup.evaluated_at,
    },
    default_sort="name",
    searchable=(DeviceGroup.name, DeviceGroup.description),
    filters={
        "org_id": Filter(DeviceGroup.org_id, uuid.UUID),
        "site_id": Filter(DeviceGroup.site_id, uuid.UUID),
        "parent_id": Filter(DeviceGroup.parent_id, uuid.UUID),
        "type": Filter(DeviceGroup.type, description="static or dynamic"),
        "predefined": Filter(
            DeviceGroup.predefined, description="windows, linux, macos, servers, offline_7d"
        ),
    },
    time_column=DeviceGroup.created_at,
)

MEMBER_LIST = ListSpec(
    sortable={
        "hostname": Device.hostname,
        "added_at": DeviceGroupMember.added_at,
        "added_by": DeviceGroupMember.added_by,
        "status": Device.status,
    },
    default_sort="hostname",
    searchable=(Device.hostname, Device.display_name),
    filters={
        "added_by": Filter(
            DeviceGroupMember.added_by, description="manual, dynamic_rule or policy"
        ),
        "site_id": Filter(Device.site_id, uuid.UUID),
        "status": Filter(Device.status),
    },
)


async def get_group(
    session: AsyncSession,
    principal: Principal,
    group_id: uuid.UUID,
    permission: str = "devices:read",
    *,
    field: str | None = None,
) -> DeviceGroup:
    """A group the principal may ``permission``, else 404 (another tenant's included)."""
    group = await fetch_visible(session, principal, permission, DeviceGroup, group_id)
    if group is None:
        raise GroupNotFound(field)
    return group


def member_ids(group_id: uuid.UUID) -> Any:
    """SELECT device_id of the members of a group (for IN conditions)."""
    return select(DeviceGroupMember.device_id).where(DeviceGroupMember.group_id == group_id)


async def group_device_ids_condition(
    session: AsyncSession, principal: Principal, group_id: uuid.UUID
) -> ColumnElement[bool]:
    """``Device.id IN (members of the group)`` once the group is visible (404 otherwise).

    The device list filter, bulk actions and script targeting combine it with their own
    restrict() on Device, so a member the principal may not see stays out.
    """
    group = await get_group(session, principal, group_id, field="group_id")
    return Device.id.in_(member_ids(group.id))


async def member_counts(
    session: AsyncSession, group_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, int]:
    if not group_ids:
        return {}
    rows = await session.execute(
        select(DeviceGroupMember.group_id, func.count())
        .join(Device, Device.id == DeviceGroupMember.device_id)
        .where(DeviceGroupMember.group_id.in_(list(group_ids)), Device.decommissioned_at.is_(None))
        .group_by(DeviceGroupMember.group_id)
    )
    return {gid: int(n) for gid, n in rows}


async def views(session: AsyncSession, groups: Sequence[DeviceGroup]) -> list[GroupOut]:
    counts = await member_counts(session, [g.id for g in groups])
    return [
        GroupOut.model_validate(g).model_copy(update={"member_count": counts.get(g.id, 0)})
        for g in groups
    ]


async def list_groups(
    session: AsyncSession, principal: Principal, params: ListParams
) -> tuple[list[DeviceGroup], int]:
    stmt = restrict(select(DeviceGroup), principal, "devices:read", DeviceGroup)
    return await paginate(session, stmt, params, GROUP_LIST, DeviceGroup.id)


async def list_members(
    session: AsyncSession, principal: Principal, group_id: uuid.UUID, params: ListParams
) -> tuple[list[MemberOut], int]:
    """Members the principal may see (a site-limited user sees their sites' devices)."""
    group = await get_group(session, principal, group_id)
    stmt = (
        select(DeviceGroupMember)
        .join(Device, Device.id == DeviceGroupMember.device_id)
        .where(
            DeviceGroupMember.group_id == group.id,
            Device.decommissioned_at.is_(None),
            principal.condition(Device, "devices:read"),
        )
    )
    rows, total = await paginate(session, stmt, params, MEMBER_LIST, DeviceGroupMember.device_id)
    devices = {
        d.id: d
        for d in (
            await session.execute(select(Device).where(Device.id.in_([r.device_id for r in rows])))
        ).scalars()
    }
    items = [
        MemberOut(
            device_id=r.device_id,
            hostname=devices[r.device_id].hostname,
            display_name=devices[r.device_id].display_name,
            os_type=devices[r.device_id].os_type,
            status=devices[r.device_id].status,
            site_id=devices[r.device_id].site_id,
            added_by=r.added_by,
            added_by_user=r.added_by_user,
            added_at=r.added_at,
        )
        for r in rows
    ]
    return items, total


async def custom_field_types(session: AsyncSession, org_id: uuid.UUID) -> dict[str, str]:
    """key -> type of the organization's custom field definitions (rules are typed by
    them)."""
    return {d.key: d.type for d in await definitions_for_org(session, org_id)}


async def org_groups(session: AsyncSession, org_id: uuid.UUID) -> list[DeviceGroup]:
    stmt = select(DeviceGroup).where(DeviceGroup.org_id == org_id)
    return list((await session.execute(stmt)).scalars())


# --- console reads (breeze.groups.views) ---------------------------------------------------


async def list_groups_in_scope(
    session: AsyncSession,
    principal: Principal,
    params: ListParams,
    *,
    partner_id: uuid.UUID | None = None,
    org_id: uuid.UUID | None = None,
    site_id: uuid.UUID | None = None,
    predefined: bool | None = None,
) -> tuple[list[DeviceGroup], int]:
    """Groups in reach within the console's scope; a site's scope lists that site's groups
    and the organization-wide ones (which hold its devices too)."""
    stmt = restrict(select(DeviceGroup), principal, "devices:read", DeviceGroup)
    if partner_id is not None:
        stmt = stmt.where(DeviceGroup.partner_id == partner_id)
    if org_id is not None:
        stmt = stmt.where(DeviceGroup.org_id == org_id)
    if site_id is not None:
        stmt = stmt.where(or_(DeviceGroup.site_id == site_id, DeviceGroup.site_id.is_(None)))
    if predefined is not None:
        column = DeviceGroup.predefined
        stmt = stmt.where(column.is_not(None) if predefined else column.is_(None))
    return await paginate(session, stmt, params, GROUP_LIST, DeviceGroup.id)


async def visible_org_groups(
    session: AsyncSession, principal: Principal, org_id: uuid.UUID
) -> list[DeviceGroup]:
    """The organization's groups the principal may read, by name (parents, rule choices)."""
    stmt = (
        restrict(select(DeviceGroup), principal, "devices:read", DeviceGroup)
        .where(DeviceGroup.org_id == org_id)
        .order_by(DeviceGroup.name, DeviceGroup.id)
    )
    return list((await session.execute(stmt)).scalars())


async def groups_by_id(
    session: AsyncSession, principal: Principal, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, DeviceGroup]:
    """Those of `ids` the principal may read (names of parents shown beside a group)."""
    if not ids:
        return {}
    stmt = restrict(select(DeviceGroup), principal, "devices:read", DeviceGroup).where(
        DeviceGroup.id.in_(list(ids))
    )
    return {g.id: g for g in (await session.execute(stmt)).scalars()}


async def child_groups(
    session: AsyncSession, principal: Principal, group_id: uuid.UUID
) -> tuple[list[DeviceGroup], int]:
    """The child groups the principal may read, and how many there are in all."""
    total = (
        await session.execute(
            select(func.count()).select_from(DeviceGroup).where(DeviceGroup.parent_id == group_id)
        )
    ).scalar_one()
    stmt = (
        restrict(select(DeviceGroup), principal, "devices:read", DeviceGroup)
        .where(DeviceGroup.parent_id == group_id)
        .order_by(DeviceGroup.name)
    )
    return list((await session.execute(stmt)).scalars()), int(total)


async def devices_by_id(
    session: AsyncSession, principal: Principal, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Device]:
    """Those of `ids` the principal may read (to name the devices of a member change)."""
    if not ids:
        return {}
    stmt = select(Device).where(
        Device.id.in_(list(ids)), principal.condition(Device, "devices:read")
    )
    return {d.id: d for d in (await session.execute(stmt)).scalars()}


async def members_among(
    session: AsyncSession, group_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> set[uuid.UUID]:
    """Which of `ids` are members of the group."""
    if not ids:
        return set()
    stmt = member_ids(group_id).where(DeviceGroupMember.device_id.in_(list(ids)))
    return set((await session.execute(stmt)).scalars())
