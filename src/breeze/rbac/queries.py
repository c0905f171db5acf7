"""Reads of roles and permissions."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from breeze.core.errors import InvalidInput
from breeze.core.pagination import Filter, ListParams, ListSpec, paginate
from breeze.core.principal import Principal, restrict
from breeze.rbac.catalog import BUILTIN_BY_KEY
from breeze.rbac.errors import RoleNotFound
from breeze.rbac.models import Permission, Role, RolePermission
from breeze.rbac.schemas import PermissionOut, RoleOut
from breeze.tenancy import queries as tenancy
from breeze.tenancy.errors import OrgNotFound, PartnerNotFound
from breeze.tenancy.models import Organization, Partner


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


def visible_roles(principal: Principal, permission: str = "roles:read") -> Select[Any]:
    """Built-in roles are visible to everyone; custom roles through restrict().

    Members of an organization also see the organization-scope roles their partner
    defines for all of its organizations (partner-owned, no org), as they may assign them.
    """
    shared: list[ColumnElement[bool]] = [Role.is_system.is_(True)]
    partners = {g.partner_id for g in principal.org_grants if permission in g.permissions}
    if partners:
        shared.append(
            and_(
                Role.scope == "organization",
                Role.org_id.is_(None),
                Role.partner_id.in_(partners),
            )
        )
    return restrict(select(Role), principal, permission, Role, shared=or_(*shared))


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
    stmt = visible_roles(principal, permission).where(Role.id == role_id)
    role: Role | None = (await session.execute(stmt)).scalar_one_or_none()
    if role is None:
        raise RoleNotFound()
    return role


async def role_by_id(session: AsyncSession, role_id: uuid.UUID) -> Role | None:
    """A role by id, unscoped: callers check it may be assigned where they use it."""
    return await session.get(Role, role_id)


async def role_names(session: AsyncSession, role_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    ids = set(role_ids)
    if not ids:
        return {}
    rows = await session.execute(select(Role.id, Role.name).where(Role.id.in_(ids)))
    return dict(rows.tuples().all())


async def role_views(session: AsyncSession, roles: list[Role]) -> list[RoleOut]:
    perms = await permissions_of_roles(session, [r.id for r in roles])
    return [RoleOut.of(r, perms.get(r.id, frozenset())) for r in roles]


async def catalog(session: AsyncSession) -> list[PermissionOut]:
    return [
        PermissionOut(
            resource=p.resource,
            action=p.action,
            name=f"{p.resource}:{p.action}",
            description=p.description,
        )
        for p in await all_permissions(session)
    ]


async def role_name_taken(
    session: AsyncSession,
    name: str,
    *,
    partner_id: uuid.UUID | None,
    org_id: uuid.UUID | None,
    except_id: uuid.UUID | None = None,
) -> bool:
    """Is `name` (case-insensitive) used by another role of this owner or a built-in role?"""
    if name.lower() in {n.lower() for n in BUILTIN_BY_KEY}:
        return True
    owner = Role.org_id == org_id if org_id is not None else Role.org_id.is_(None)
    stmt = select(Role.id).where(
        func.lower(Role.name) == name.lower(), Role.partner_id == partner_id, owner
    )
    if except_id is not None:
        stmt = stmt.where(Role.id != except_id)
    return (await session.execute(stmt.limit(1))).first() is not None


@dataclass(frozen=True)
class Place:
    """A spot in the tenant tree: a partner, or an organization of a partner."""

    partner_id: uuid.UUID
    org_id: uuid.UUID | None
    name: str


async def visible_place(
    session: AsyncSession,
    principal: Principal,
    *,
    partner_id: uuid.UUID | None,
    org_id: uuid.UUID | None,
    via: tuple[str, ...] = (),
) -> Place:
    """The partner XOR organization a request names, if the principal can see it.

    Seen means partners:read / orgs:read there, or one of the `via` permissions
    (e.g. users:read); otherwise 404, as for any other tenant's row.
    """
    if (partner_id is None) == (org_id is None):
        raise InvalidInput(
            "Give exactly one of partner_id and org_id",
            field="org_id" if partner_id is not None else "partner_id",
        )
    if org_id is not None:
        for permission in ("orgs:read", *via):
            try:
                org = await tenancy.get_org(session, principal, org_id, permission)
            except OrgNotFound:
                continue
            return Place(org.partner_id, org.id, org.name)
        raise OrgNotFound()
    assert partner_id is not None
    for permission in ("partners:read", *via):
        try:
            partner = await tenancy.get_partner(session, principal, partner_id, permission)
        except PartnerNotFound:
            continue
        return Place(partner.id, None, partner.name)
    raise PartnerNotFound()


# Console reads -------------------------------------------------------------


def _fits(role: Role, place: Place) -> bool:
    """May `role` be used in a membership at `place` (scope and owner match)?"""
    wanted = "partner" if place.org_id is None else "organization"
    if role.scope != wanted:
        return False
    if role.is_system:
        return True
    return role.partner_id == place.partner_id and role.org_id in (None, place.org_id)


async def assignable_roles(
    session: AsyncSession, principal: Principal, place: Place
) -> list[tuple[Role, frozenset[str]]]:
    """The roles the principal may hand out in a membership at `place`, with their
    permissions: right scope and owner, and no permission the principal lacks there
    (the same rules `assignable_role` enforces on submit). Built-in roles first."""
    stmt = visible_roles(principal).order_by(Role.is_system.desc(), Role.name)
    roles = [r for r in (await session.execute(stmt)).scalars() if _fits(r, place)]
    perms = await permissions_of_roles(session, [r.id for r in roles])
    held = principal.permissions_at(partner_id=place.partner_id, org_id=place.org_id)
    return [(r, perms[r.id]) for r in roles if perms[r.id] <= held]


async def roles_in_scope(
    session: AsyncSession,
    principal: Principal,
    params: ListParams,
    *,
    partner_id: uuid.UUID | None = None,
    org_id: uuid.UUID | None = None,
) -> tuple[list[Role], int]:
    """Visible roles: built-in ones and, within a scope, the custom roles usable there
    (the partner's own and, for an organization, that organization's)."""
    stmt = visible_roles(principal)
    if partner_id is not None:
        owned = Role.partner_id == partner_id
        if org_id is not None:
            owned = and_(owned, or_(Role.org_id.is_(None), Role.org_id == org_id))
        stmt = stmt.where(or_(Role.is_system.is_(True), owned))
    return await paginate(session, stmt, params, ROLE_LIST, Role.id)


async def owner_names(session: AsyncSession, roles: Iterable[Role]) -> dict[uuid.UUID, str]:
    """Names of the partners and organizations owning these (already visible) roles."""
    rs = list(roles)
    partner_ids = {r.partner_id for r in rs if r.partner_id is not None}
    org_ids = {r.org_id for r in rs if r.org_id is not None}
    names: dict[uuid.UUID, str] = {}
    if partner_ids:
        rows = await session.execute(
            select(Partner.id, Partner.name).where(Partner.id.in_(partner_ids))
        )
        names.update(rows.tuples().all())
    if org_ids:
        rows = await session.execute(
            select(Organization.id, Organization.name).where(Organization.id.in_(org_ids))
        )
        names.update(rows.tuples().all())
    return names
