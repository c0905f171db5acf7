"""Every write to device groups; each writes its audit row in the same transaction.

Groups are device configuration: reading them takes devices:read, changing them
devices:write at the group's place (organization, or its site). Dynamic memberships are
recomputed inside the same transaction as the rule or parent change, so the answer and
the next read agree.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from breeze.audit.actions import record
from breeze.core.errors import InvalidInput
from breeze.core.principal import Principal
from breeze.db.base import utcnow
from breeze.devices.models import Device
from breeze.groups import queries
from breeze.groups.errors import (
    DynamicMembership,
    GroupHasChildren,
    GroupNameTaken,
    GroupReferenced,
    PredefinedGroup,
)
from breeze.groups.evaluation import evaluate_group, evaluate_with_dependants, qualifying
from breeze.groups.fields import referenced_groups
from breeze.groups.models import ADDED_MANUAL, DYNAMIC, STATIC, DeviceGroup, DeviceGroupMember
from breeze.groups.rules import validate_rules
from breeze.groups.schemas import (
    GroupCreate,
    GroupUpdate,
    MembersResult,
    PreviewRequest,
    SkippedMember,
)
from breeze.rbac.queries import visible_place
from breeze.tenancy.queries import live_site_ids

MAX_NESTING = 8


def _require_write(actor: Principal, group: DeviceGroup) -> None:
    actor.require(
        "devices:write", partner_id=group.partner_id, org_id=group.org_id, site_id=group.site_id
    )


async def _audit(
    session: AsyncSession, actor: Principal, action: str, group: DeviceGroup, **details: Any
) -> None:
    await record(
        session,
        actor=actor.actor,
        action=action,
        resource_type="device_group",
        resource_id=group.id,
        resource_name=group.name,
        partner_id=group.partner_id,
        org_id=group.org_id,
        details=details,
    )


async def _name_free(
    session: AsyncSession, org_id: uuid.UUID, name: str, except_id: uuid.UUID | None = None
) -> None:
    stmt = select(DeviceGroup.id).where(DeviceGroup.org_id == org_id, DeviceGroup.name == name)
    if except_id is not None:
        stmt = stmt.where(DeviceGroup.id != except_id)
    if (await session.execute(stmt.limit(1))).first() is not None:
        raise GroupNameTaken(name)


async def _check_site(session: AsyncSession, org_id: uuid.UUID, site_id: uuid.UUID) -> None:
    if not await live_site_ids(session, org_id, [site_id]):
        raise InvalidInput("site_id is not a site of the group's organization", field="site_id")


async def _parent(
    session: AsyncSession,
    actor: Principal,
    *,
    parent_id: uuid.UUID,
    org_id: uuid.UUID,
    site_id: uuid.UUID | None,
    group_id: uuid.UUID | None,
) -> DeviceGroup:
    """The parent a group may have: same organization, the child within its site, and
    no cycle (a group is never its own ancestor)."""
    parent = await queries.get_group(session, actor, parent_id, field="parent_id")
    if parent.org_id != org_id:
        raise InvalidInput("The parent group belongs to another organization", field="parent_id")
    if parent.site_id is not None and site_id != parent.site_id:
        raise InvalidInput(
            "The parent group holds the devices of one site; a child must be in that site",
            field="site_id",
        )
    seen: set[uuid.UUID] = set()
    node: DeviceGroup | None = parent
    depth = 1
    while node is not None:
        if node.id == group_id or node.id in seen:
            raise InvalidInput("A group cannot be its own ancestor", field="parent_id")
        seen.add(node.id)
        depth += 1
        if depth > MAX_NESTING:
            raise InvalidInput(f"Groups nest at most {MAX_NESTING} levels", field="parent_id")
        node = await session.get(DeviceGroup, node.parent_id) if node.parent_id else None
    return parent


async def checked_rules(
    session: AsyncSession,
    *,
    org_id: uuid.UUID,
    rules: Any,
    group_id: uuid.UUID | None,
    parent_id: uuid.UUID | None,
) -> dict[str, Any]:
    """Rules validated against the organization (its custom fields and groups), refusing
    a group that would depend on itself through rules and parents."""
    types = await queries.custom_field_types(session, org_id)
    normalised = validate_rules(rules, custom_types=types)
    named = referenced_groups(normalised)
    if not named:
        return normalised
    groups = {g.id: g for g in await queries.org_groups(session, org_id)}
    missing = sorted(str(g) for g in named - groups.keys())
    if missing:
        raise InvalidInput(f"No group {missing[0]} in this organization", field="rules")
    if group_id is None:
        return normalised

    def deps(gid: uuid.UUID) -> set[uuid.UUID]:
        if gid == group_id:
            return named | ({parent_id} if parent_id else set())
        g = groups.get(gid)
        if g is None:
            return set()
        out = referenced_groups(g.rules) if g.type == DYNAMIC else set()
        return out | ({g.parent_id} if g.parent_id else set())

    stack, seen = list(named), set()
    while stack:
        gid = stack.pop()
        if gid == group_id:
            raise InvalidInput("The rules would make the group depend on itself", field="rules")
        if gid not in seen:
            seen.add(gid)
            stack.extend(deps(gid))
    return normalised


async def do_create_group(
    session: AsyncSession, *, actor: Principal, data: GroupCreate
) -> DeviceGroup:
    place = await visible_place(
        session, actor, partner_id=None, org_id=data.org_id, via=("devices:read",)
    )
    assert place.org_id is not None
    site_id = data.site_id
    if site_id is not None:
        await _check_site(session, place.org_id, site_id)
    group_id = uuid.uuid4()
    if data.parent_id is not None:
        parent = await queries.get_group(session, actor, data.parent_id, field="parent_id")
        site_id = site_id or parent.site_id  # a child of a site group lives in that site
        await _parent(
            session,
            actor,
            parent_id=data.parent_id,
            org_id=place.org_id,
            site_id=site_id,
            group_id=group_id,
        )
    actor.require(
        "devices:write", partner_id=place.partner_id, org_id=place.org_id, site_id=site_id
    )
    name = data.name.strip()
    if not name:
        raise InvalidInput("name cannot be blank", field="name")
    await _name_free(session, place.org_id, name)
    rules: dict[str, Any] | None = None
    if data.type == DYNAMIC:
        if data.rules is None:
            raise InvalidInput("A dynamic group needs rules", field="rules")
        rules = await checked_rules(
            session, org_id=place.org_id, rules=data.rules, group_id=group_id, parent_id=None
        )
    elif data.rules is not None:
        raise InvalidInput("Static groups have no rules; add members instead", field="rules")
    group = DeviceGroup(
        id=group_id,
        partner_id=place.partner_id,
        org_id=place.org_id,
        site_id=site_id,
        parent_id=data.parent_id,
        name=name,
        description=data.description,
        type=data.type,
        rules=rules,
        created_by=actor.actor.id,
    )
    session.add(group)
    await session.flush()
    added = 0
    if group.type == DYNAMIC:
        added, _ = await evaluate_group(session, group)
    await _audit(
        session,
        actor,
        "device_group.create",
        group,
        type=group.type,
        site_id=str(site_id) if site_id else None,
        parent_id=str(group.parent_id) if group.parent_id else None,
        rules=rules,
        members=added,
    )
    return group


async def do_update_group(
    session: AsyncSession, *, actor: Principal, group_id: uuid.UUID, data: GroupUpdate
) -> DeviceGroup:
    group = await queries.get_group(session, actor, group_id)
    _require_write(actor, group)
    changes = data.model_dump(exclude_unset=True)
    diff: dict[str, Any] = {}
    if changes.get("name") is not None:
        name = changes["name"].strip()
        if not name:
            raise InvalidInput("name cannot be blank", field="name")
        if name != group.name:
            await _name_free(session, group.org_id, name, except_id=group.id)
            diff["name"] = [group.name, name]
            group.name = name
    elif "name" in changes:
        raise InvalidInput("name cannot be null", field="name")
    if "description" in changes:
        description = changes["description"] or ""
        if description != group.description:
            diff["description"] = [group.description, description]
            group.description = description
    if "parent_id" in changes and changes["parent_id"] != group.parent_id:
        if group.predefined:
            raise PredefinedGroup("move under another group")
        if changes["parent_id"] is not None:
            await _parent(
                session,
                actor,
                parent_id=changes["parent_id"],
                org_id=group.org_id,
                site_id=group.site_id,
                group_id=group.id,
            )
        diff["parent_id"] = [str(group.parent_id) if group.parent_id else None, None]
        group.parent_id = changes["parent_id"]
        diff["parent_id"][1] = str(group.parent_id) if group.parent_id else None
    if "rules" in changes:
        if group.type != DYNAMIC:
            raise InvalidInput("Static groups have no rules; add members instead", field="rules")
        if group.predefined:
            raise PredefinedGroup("change their rules")
        if changes["rules"] is None:
            raise InvalidInput("A dynamic group needs rules", field="rules")
        rules = await checked_rules(
            session,
            org_id=group.org_id,
            rules=changes["rules"],
            group_id=group.id,
            parent_id=group.parent_id,
        )
        if rules != group.rules:
            diff["rules"] = [group.rules, rules]
            group.rules = rules
    elif "parent_id" in diff and group.type == DYNAMIC:
        # A new parent may close a dependency cycle through this group's rules.
        await checked_rules(
            session,
            org_id=group.org_id,
            rules=group.rules,
            group_id=group.id,
            parent_id=group.parent_id,
        )
    if diff:
        group.updated_at = utcnow()
        await session.flush()
        if "rules" in diff or "parent_id" in diff:
            await evaluate_with_dependants(session, group)
        await _audit(session, actor, "device_group.update", group, changes=diff)
    return group


async def do_delete_group(session: AsyncSession, *, actor: Principal, group_id: uuid.UUID) -> None:
    """Delete a group (its memberships go with it). Refused while it has child groups,
    while other groups' rules name it, and for predefined groups (every organization
    keeps them; the sweep would only create them again)."""
    group = await queries.get_group(session, actor, group_id)
    _require_write(actor, group)
    if group.predefined:
        raise PredefinedGroup("be deleted")
    children = (
        await session.execute(
            select(func.count()).select_from(DeviceGroup).where(DeviceGroup.parent_id == group.id)
        )
    ).scalar_one()
    if children:
        raise GroupHasChildren(int(children))
    naming = [
        g.name
        for g in await queries.org_groups(session, group.org_id)
        if g.type == DYNAMIC and group.id in referenced_groups(g.rules)
    ]
    if naming:
        raise GroupReferenced(naming)
    count = await queries.member_counts(session, [group.id])
    await session.execute(delete(DeviceGroupMember).where(DeviceGroupMember.group_id == group.id))
    await session.delete(group)
    await session.flush()
    await _audit(
        session,
        actor,
        "device_group.delete",
        group,
        type=group.type,
        members=count.get(group.id, 0),
    )


async def do_add_members(
    session: AsyncSession, *, actor: Principal, group_id: uuid.UUID, device_ids: list[uuid.UUID]
) -> MembersResult:
    """Add devices to a static group; each device that cannot join is listed with why."""
    group = await queries.get_group(session, actor, group_id)
    _require_write(actor, group)
    if group.type != STATIC:
        raise DynamicMembership()
    if not device_ids:
        raise InvalidInput("Name at least one device", field="device_ids")
    visible = {
        d.id: d
        for d in (
            await session.execute(
                select(Device).where(
                    Device.id.in_(device_ids), actor.condition(Device, "devices:read")
                )
            )
        ).scalars()
    }
    fits = set(
        (
            await session.execute(
                select(Device.id).where(
                    Device.id.in_(list(visible)), qualifying(group, now=utcnow())
                )
            )
        ).scalars()
    )
    already = set((await session.execute(queries.member_ids(group.id))).scalars())
    result = MembersResult()
    now = utcnow()
    for device_id in device_ids:
        device = visible.get(device_id)
        reason = None
        if device is None:
            reason = "device not found"
        elif device.decommissioned_at is not None:
            reason = "the device is decommissioned"
        elif device.org_id != group.org_id:
            reason = "the device belongs to another organization"
        elif group.site_id is not None and device.site_id != group.site_id:
            reason = "the device is not in the group's site"
        elif device_id not in fits:
            reason = "the device is not a member of the parent group"
        elif device_id in already:
            reason = "already a member"
        if reason is not None:
            result.skipped.append(SkippedMember(device_id=device_id, reason=reason))
            continue
        session.add(
            DeviceGroupMember(
                group_id=group.id,
                device_id=device_id,
                added_by=ADDED_MANUAL,
                added_by_user=actor.actor.id,
                added_at=now,
            )
        )
        result.added.append(device_id)
    if result.added:
        await session.flush()
        await evaluate_with_dependants(session, group)
        await _audit(
            session,
            actor,
            "device_group.members.add",
            group,
            added=[str(i) for i in result.added],
            skipped=len(result.skipped),
        )
    return result


async def do_remove_members(
    session: AsyncSession, *, actor: Principal, group_id: uuid.UUID, device_ids: list[uuid.UUID]
) -> MembersResult:
    """Remove devices from a static group; child groups lose them too."""
    group = await queries.get_group(session, actor, group_id)
    _require_write(actor, group)
    if group.type != STATIC:
        raise DynamicMembership()
    if not device_ids:
        raise InvalidInput("Name at least one device", field="device_ids")
    present = set(
        (
            await session.execute(
                queries.member_ids(group.id).where(DeviceGroupMember.device_id.in_(device_ids))
            )
        ).scalars()
    )
    result = MembersResult()
    for device_id in device_ids:
        if device_id in present:
            result.removed.append(device_id)
        else:
            result.skipped.append(SkippedMember(device_id=device_id, reason="not a member"))
    if result.removed:
        await session.execute(
            delete(DeviceGroupMember).where(
                DeviceGroupMember.group_id == group.id,
                DeviceGroupMember.device_id.in_(result.removed),
            )
        )
        await evaluate_with_dependants(session, group)
        await _audit(
            session,
            actor,
            "device_group.members.remove",
            group,
            removed=[str(i) for i in result.removed],
            skipped=len(result.skipped),
        )
    return result


async def preview(
    session: AsyncSession, *, actor: Principal, req: PreviewRequest
) -> tuple[list[Device], int, dict[str, Any]]:
    """The devices ``req.rules`` would hold (first page and total), saving nothing."""
    place = await visible_place(
        session, actor, partner_id=None, org_id=req.org_id, via=("devices:read",)
    )
    assert place.org_id is not None
    site_id = req.site_id
    if site_id is not None:
        await _check_site(session, place.org_id, site_id)
    if req.parent_id is not None:
        parent = await queries.get_group(session, actor, req.parent_id, field="parent_id")
        site_id = site_id or parent.site_id
        await _parent(
            session,
            actor,
            parent_id=req.parent_id,
            org_id=place.org_id,
            site_id=site_id,
            group_id=None,
        )
    rules = await checked_rules(
        session, org_id=place.org_id, rules=req.rules, group_id=None, parent_id=None
    )
    draft = DeviceGroup(
        id=uuid.uuid4(),
        partner_id=place.partner_id,
        org_id=place.org_id,
        site_id=site_id,
        parent_id=req.parent_id,
        name="preview",
        type=DYNAMIC,
        rules=rules,
    )
    where = (qualifying(draft, now=utcnow()), actor.condition(Device, "devices:read"))
    total = (
        await session.execute(select(func.count()).select_from(Device).where(*where))
    ).scalar_one()
    rows = (
        await session.execute(
            select(Device).where(*where).order_by(Device.hostname, Device.id).limit(req.per_page)
        )
    ).scalars()
    return list(rows), int(total), rules
