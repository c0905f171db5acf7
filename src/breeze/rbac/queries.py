"""Reads of roles and permissions."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from breeze.core.errors import NotFound
from breeze.core.pagination import Filter, ListParams, ListSpec, paginate
from breeze.core.principal import Principal, restrict
from breeze.rbac.models import Permission, Role, RolePermission


async def permissions_of_roles(
    session: AsyncSession, role_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, frozenset[str]]:
    ids = set(role_ids)
    if not ids:
        return {}
    rows = await session.execute(
        select(RolePermission.role_id, Permission.resource, Permission.action)
        .join(Permission, Permission.id == RolePermission.permission_id)
        .where(RolePermission.role_id.in_(ids))
    )
    found: dict[uuid.UUID, set[str]] = defaultdict(set)
    for role_id, resource, action in rows:
        found[role_id].add(f"{resource}:{action}")
    return {rid: frozenset(found.get(rid, set())) for rid in ids}


async def permission_ids(session: AsyncSession, names: Iterable[str]) -> dict[str, uuid.UUID]:
    rows = await session.execute(select(Permission))
    by_name = {f"{p.resource}:{p.action}": p.id for p in rows.scalars()}
    return {n: by_name[n] for n in names if n in by_name}


async def all_permissions(session: AsyncSession) -> list[Permission]:
    rows = await session.execute(
        select(Permission).order_by(Permission.resource, Permission.action)
    )
    return list(rows.scalars())


def visible_roles(principal: Principal, permission: str = "roles:read") -> Select[tuple[Role]]:
    """Built-in roles are visible to everyone; custom roles through restrict()."""
    return restrict(select(Role), principal, permission, Role, shared=Role.is_system)


ROLE_LIST = ListSpec(
    sortable={"name": Role.name, "scope": Role.scope, "created_at": Role.created_at},
    default_sort="name",
    searchable=(Role.name, Role.description),
    filters={
        "scope": Filter(Role.scope),
        "partner_id": Filter(Role.partner_id, uuid.UUID),
        "org_id": Filter(Role.org_id, uuid.UUID),
        "is_system": Filter(Role.is_system, bool),
    },
)


async def list_roles(
    session: AsyncSession, principal: Principal, params: ListParams
) -> tuple[list[Role], int]:
    return await paginate(session, visible_roles(principal), params, ROLE_LIST, Role.id)


async def get_role(
    session: AsyncSession, principal: Principal, role_id: uuid.UUID, permission: str = "roles:read"
) -> Role:
    role = (
        await session.execute(visible_roles(principal, permission).where(Role.id == role_id))
    ).scalar_one_or_none()
    if role is None:
        raise NotFound("Role not found")
    return role
