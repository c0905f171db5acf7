"""Every write to custom roles; each writes its audit row.

Delegation rule (no privilege escalation): nobody creates, changes or assigns a
role holding a permission they do not hold themselves at that place.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from breeze.audit.actions import record
from breeze.core.errors import InvalidInput
from breeze.core.patch import apply_changes
from breeze.core.principal import Principal
from breeze.db.base import utcnow
from breeze.rbac import queries
from breeze.rbac.errors import (
    BuiltinRoleImmutable,
    PermissionsNotHeld,
    RoleInUse,
    RoleNameTaken,
    UnknownPermissions,
)
from breeze.rbac.models import Role, RolePermission
from breeze.rbac.schemas import RoleCreate, RoleUpdate
from breeze.users.queries import count_role_members


def ensure_grantable(
    actor: Principal,
    permissions: Iterable[str],
    *,
    partner_id: uuid.UUID,
    org_id: uuid.UUID | None = None,
) -> None:
    """403 unless the actor holds every one of `permissions` at this place."""
    missing = set(permissions) - actor.permissions_at(partner_id=partner_id, org_id=org_id)
    if missing:
        raise PermissionsNotHeld(missing)


async def assignable_role(
    session: AsyncSession, actor: Principal, role_id: uuid.UUID, place: queries.Place
) -> Role:
    """The role `role_id` if the actor may assign it in a membership at `place`.

    Built-in roles, or custom roles of the place's partner (for organizations: the
    partner's organization-scope roles and the organization's own); the scope must
    match the membership; and the actor must hold all its permissions there (403).
    """
    role = await queries.role_by_id(session, role_id)
    if role is None or (not role.is_system and role.partner_id != place.partner_id):
        raise InvalidInput("Role not found", field="role_id")
    perms = (await queries.permissions_of_roles(session, [role.id]))[role.id]
    ensure_grantable(actor, perms, partner_id=place.partner_id, org_id=place.org_id)
    wanted = "partner" if place.org_id is None else "organization"
    if role.scope != wanted:
        raise InvalidInput(
            f"'{role.name}' is a {role.scope} role; this membership needs a {wanted} role",
            field="role_id",
        )
    if not role.is_system and role.org_id not in (None, place.org_id):
        raise InvalidInput(
            f"The role '{role.name}' belongs to another organization", field="role_id"
        )
    return role


async def _permission_ids(session: AsyncSession, names: Iterable[str]) -> dict[str, uuid.UUID]:
    wanted = set(names)
    found = await queries.permission_ids(session, wanted)
    unknown = wanted - found.keys()
    if unknown:
        raise UnknownPermissions(unknown)
    return found


async def _free_name(session: AsyncSession, name: str, role: Role) -> None:
    if await queries.role_name_taken(
        session, name, partner_id=role.partner_id, org_id=role.org_id, except_id=role.id
    ):
        raise RoleNameTaken(name)


async def do_create_role(session: AsyncSession, *, actor: Principal, data: RoleCreate) -> Role:
    place = await queries.visible_place(
        session, actor, partner_id=data.partner_id, org_id=data.org_id, via=("roles:read",)
    )
    actor.require("roles:write", partner_id=place.partner_id, org_id=place.org_id)
    if place.org_id is not None and data.scope != "organization":
        raise InvalidInput(
            "A role owned by an organization must have scope 'organization'", field="scope"
        )
    ids = await _permission_ids(session, data.permissions)
    ensure_grantable(actor, ids, partner_id=place.partner_id, org_id=place.org_id)
    role = Role(
        id=uuid.uuid4(),
        partner_id=place.partner_id,
        org_id=place.org_id,
        scope=data.scope,
        name=data.name,
        description=data.description,
        is_system=False,
    )
    await _free_name(session, data.name, role)
    session.add(role)
    await session.flush()
    session.add_all(RolePermission(role_id=role.id, permission_id=pid) for pid in ids.values())
    await session.flush()
    await record(
        session,
        actor=actor.actor,
        action="role.create",
        resource_type="role",
        resource_id=role.id,
        resource_name=role.name,
        partner_id=place.partner_id,
        org_id=place.org_id,
        details={"scope": role.scope, "permissions": sorted(ids)},
    )
    return role


async def _writable_role(
    session: AsyncSession, actor: Principal, role_id: uuid.UUID, permission: str
) -> Role:
    role = await queries.get_role(session, actor, role_id)
    if role.is_system:
        raise BuiltinRoleImmutable()
    assert role.partner_id is not None  # custom roles always have an owner
    actor.require(permission, partner_id=role.partner_id, org_id=role.org_id)
    return role


async def do_update_role(
    session: AsyncSession, *, actor: Principal, role_id: uuid.UUID, data: RoleUpdate
) -> Role:
    role = await _writable_role(session, actor, role_id, "roles:write")
    assert role.partner_id is not None
    changes = data.model_dump(exclude_unset=True, exclude={"permissions"})
    if changes.get("name"):
        await _free_name(session, changes["name"], role)
    diff = apply_changes(role, changes, required=frozenset({"name", "description"}))
    details: dict[str, object] = {"changes": diff}
    if data.permissions is not None:
        ids = await _permission_ids(session, data.permissions)
        ensure_grantable(actor, ids, partner_id=role.partner_id, org_id=role.org_id)
        current = (await queries.permissions_of_roles(session, [role.id]))[role.id]
        added, removed = set(ids) - current, current - set(ids)
        if removed:
            gone = await queries.permission_ids(session, removed)
            await session.execute(
                delete(RolePermission).where(
                    RolePermission.role_id == role.id,
                    RolePermission.permission_id.in_(gone.values()),
                )
            )
        session.add_all(RolePermission(role_id=role.id, permission_id=ids[n]) for n in added)
        if added or removed:
            role.updated_at = utcnow()
            details["permissions"] = {"added": sorted(added), "removed": sorted(removed)}
    await session.flush()
    await record(
        session,
        actor=actor.actor,
        action="role.update",
        resource_type="role",
        resource_id=role.id,
        resource_name=role.name,
        partner_id=role.partner_id,
        org_id=role.org_id,
        details=details,
    )
    return role


async def do_delete_role(session: AsyncSession, *, actor: Principal, role_id: uuid.UUID) -> None:
    role = await _writable_role(session, actor, role_id, "roles:delete")
    in_use = await count_role_members(session, role.id)
    if in_use:
        raise RoleInUse(in_use)
    perms = (await queries.permissions_of_roles(session, [role.id]))[role.id]
    await session.execute(delete(RolePermission).where(RolePermission.role_id == role.id))
    await session.delete(role)
    await session.flush()
    await record(
        session,
        actor=actor.actor,
        action="role.delete",
        resource_type="role",
        resource_id=role.id,
        resource_name=role.name,
        partner_id=role.partner_id,
        org_id=role.org_id,
        details={"scope": role.scope, "permissions": sorted(perms)},
    )
