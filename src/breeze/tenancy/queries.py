"""Reads of partners, organizations and sites, all through restrict()."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from breeze.core.pagination import Filter, ListParams, ListSpec, escape_like, paginate
from breeze.core.principal import Principal, fetch_visible, restrict
from breeze.tenancy.errors import OrgNotFound, PartnerNotFound, SiteNotFound
from breeze.tenancy.models import Organization, Partner, Site

PARTNER_LIST = ListSpec(
    sortable={
        "name": Partner.name,
        "slug": Partner.slug,
        "type": Partner.type,
        "plan": Partner.plan,
        "created_at": Partner.created_at,
    },
    default_sort="name",
    searchable=(Partner.name, Partner.slug),
    filters={"type": Filter(Partner.type), "plan": Filter(Partner.plan)},
    time_column=Partner.created_at,
)

ORG_LIST = ListSpec(
    sortable={
        "name": Organization.name,
        "slug": Organization.slug,
        "status": Organization.status,
        "type": Organization.type,
        "created_at": Organization.created_at,
    },
    default_sort="name",
    searchable=(Organization.name, Organization.slug),
    filters={
        "partner_id": Filter(Organization.partner_id, uuid.UUID),
        "status": Filter(Organization.status),
        "type": Filter(Organization.type),
    },
    time_column=Organization.created_at,
)

SITES_OF_ORG = ListSpec(
    sortable={"name": Site.name, "timezone": Site.timezone, "created_at": Site.created_at},
    default_sort="name",
    searchable=(Site.name,),
    filters={"timezone": Filter(Site.timezone)},
    time_column=Site.created_at,
)
SITE_LIST = dataclasses.replace(
    SITES_OF_ORG, filters={**SITES_OF_ORG.filters, "org_id": Filter(Site.org_id, uuid.UUID)}
)


async def list_partners(
    session: AsyncSession, principal: Principal, params: ListParams
) -> tuple[list[Partner], int]:
    stmt = restrict(select(Partner), principal, "partners:read", Partner)
    return await paginate(session, stmt, params, PARTNER_LIST, Partner.id)


async def get_partner(
    session: AsyncSession,
    principal: Principal,
    partner_id: uuid.UUID,
    permission: str = "partners:read",
) -> Partner:
    partner = await fetch_visible(session, principal, permission, Partner, partner_id)
    if partner is None:
        raise PartnerNotFound()
    return partner


async def get_partner_for_child(
    session: AsyncSession, principal: Principal, partner_id: uuid.UUID
) -> Partner:
    """The partner a new organization goes into: visible to anyone who may create
    organizations in it, even without partners:read (404 otherwise)."""
    if principal.can("orgs:write", partner_id=partner_id):
        partner = await session.get(Partner, partner_id)
        if partner is not None and partner.deleted_at is None:
            return partner
    raise PartnerNotFound()


async def list_orgs(
    session: AsyncSession, principal: Principal, params: ListParams
) -> tuple[list[Organization], int]:
    stmt = restrict(select(Organization), principal, "orgs:read", Organization)
    return await paginate(session, stmt, params, ORG_LIST, Organization.id)


async def get_org(
    session: AsyncSession, principal: Principal, org_id: uuid.UUID, permission: str = "orgs:read"
) -> Organization:
    org = await fetch_visible(session, principal, permission, Organization, org_id)
    if org is None:
        raise OrgNotFound()
    return org


async def list_sites(
    session: AsyncSession,
    principal: Principal,
    params: ListParams,
    org_id: uuid.UUID | None = None,
) -> tuple[list[Site], int]:
    stmt = restrict(select(Site), principal, "sites:read", Site)
    if org_id is not None:
        stmt = stmt.where(Site.org_id == org_id)
    return await paginate(
        session, stmt, params, SITE_LIST if org_id is None else SITES_OF_ORG, Site.id
    )


async def get_site(
    session: AsyncSession, principal: Principal, site_id: uuid.UUID, permission: str = "sites:read"
) -> Site:
    site = await fetch_visible(session, principal, permission, Site, site_id)
    if site is None:
        raise SiteNotFound()
    return site


async def count_live_orgs(session: AsyncSession, partner_id: uuid.UUID) -> int:
    stmt = (
        select(func.count())
        .select_from(Organization)
        .where(Organization.partner_id == partner_id, Organization.deleted_at.is_(None))
    )
    return int((await session.execute(stmt)).scalar_one())


async def slug_in_use(
    session: AsyncSession,
    model: type[Partner] | type[Organization],
    slug: str,
    *,
    partner_id: uuid.UUID | None = None,
    except_id: uuid.UUID | None = None,
) -> bool:
    stmt = select(model.id).where(model.slug == slug, model.deleted_at.is_(None))
    if model is Organization:
        stmt = stmt.where(Organization.partner_id == partner_id)
    if except_id is not None:
        stmt = stmt.where(model.id != except_id)
    return (await session.execute(stmt.limit(1))).first() is not None


async def live_org_ids(
    session: AsyncSession, partner_id: uuid.UUID, ids: Iterable[uuid.UUID]
) -> set[uuid.UUID]:
    """Which of `ids` are live organizations of this partner."""
    stmt = select(Organization.id).where(
        Organization.partner_id == partner_id,
        Organization.id.in_(set(ids)),
        Organization.deleted_at.is_(None),
    )
    return set((await session.execute(stmt)).scalars())


async def live_site_ids(
    session: AsyncSession, org_id: uuid.UUID, ids: Iterable[uuid.UUID]
) -> set[uuid.UUID]:
    """Which of `ids` are live sites of this organization."""
    stmt = select(Site.id).where(
        Site.org_id == org_id, Site.id.in_(set(ids)), Site.deleted_at.is_(None)
    )
    return set((await session.execute(stmt)).scalars())


SCOPE_CHOICES_LIMIT = 200


async def scope_partners(
    session: AsyncSession, principal: Principal, search: str = ""
) -> list[Partner]:
    """Partners the console's scope switcher offers, by name."""
    stmt = restrict(select(Partner), principal, "partners:read", Partner)
    if search:
        stmt = stmt.where(Partner.name.ilike(f"%{escape_like(search)}%", escape="\\"))
    stmt = stmt.order_by(Partner.name).limit(SCOPE_CHOICES_LIMIT)
    return list((await session.execute(stmt)).scalars())


async def scope_orgs(
    session: AsyncSession,
    principal: Principal,
    partner_id: uuid.UUID | None = None,
    search: str = "",
) -> list[Organization]:
    """Organizations the scope switcher offers (within a partner when one is chosen)."""
    stmt = restrict(select(Organization), principal, "orgs:read", Organization)
    if partner_id is not None:
        stmt = stmt.where(Organization.partner_id == partner_id)
    if search:
        stmt = stmt.where(Organization.name.ilike(f"%{escape_like(search)}%", escape="\\"))
    stmt = stmt.order_by(Organization.name).limit(SCOPE_CHOICES_LIMIT)
    return list((await session.execute(stmt)).scalars())


async def scope_sites(session: AsyncSession, principal: Principal, org_id: uuid.UUID) -> list[Site]:
    stmt = restrict(select(Site), principal, "sites:read", Site).where(Site.org_id == org_id)
    stmt = stmt.order_by(Site.name).limit(SCOPE_CHOICES_LIMIT)
    return list((await session.execute(stmt)).scalars())


# Console lookups -----------------------------------------------------------


async def _visible_names(
    session: AsyncSession,
    principal: Principal,
    model: type[Partner] | type[Organization] | type[Site],
    permission: str,
    ids: Iterable[uuid.UUID],
) -> dict[uuid.UUID, str]:
    wanted = set(ids)
    if not wanted:
        return {}
    stmt = restrict(select(model), principal, permission, model).with_only_columns(
        model.id, model.name
    )
    rows = await session.execute(stmt.where(model.id.in_(wanted)))
    return {row.id: row.name for row in rows}


async def org_names(
    session: AsyncSession, principal: Principal, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """Names of the visible organizations among `ids` (for labelling rows of other tables)."""
    return await _visible_names(session, principal, Organization, "orgs:read", ids)


async def site_names(
    session: AsyncSession, principal: Principal, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """Names of the visible sites among `ids`."""
    return await _visible_names(session, principal, Site, "sites:read", ids)


async def partner_names(
    session: AsyncSession, principal: Principal, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """Names of the visible partners among `ids`."""
    return await _visible_names(session, principal, Partner, "partners:read", ids)


async def live_org_counts(
    session: AsyncSession, principal: Principal, partner_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """How many organizations of each partner the principal can see."""
    wanted = set(partner_ids)
    if not wanted:
        return {}
    base = restrict(select(Organization), principal, "orgs:read", Organization)
    stmt = base.with_only_columns(Organization.partner_id, func.count())
    stmt = stmt.where(Organization.partner_id.in_(wanted)).group_by(Organization.partner_id)
    return {pid: int(n) for pid, n in (await session.execute(stmt)).all()}


async def live_site_counts(
    session: AsyncSession, principal: Principal, org_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """How many sites of each organization the principal can see."""
    wanted = set(org_ids)
    if not wanted:
        return {}
    base = restrict(select(Site), principal, "sites:read", Site)
    stmt = base.with_only_columns(Site.org_id, func.count())
    stmt = stmt.where(Site.org_id.in_(wanted)).group_by(Site.org_id)
    return {oid: int(n) for oid, n in (await session.execute(stmt)).all()}
