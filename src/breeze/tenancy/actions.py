"""Every write to partners, organizations and sites; each writes its audit row."""

from __future__ import annotations

import uuid
from typing import Any
from zoneinfo import available_timezones

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from breeze.audit.actions import record
from breeze.core.errors import InvalidInput
from breeze.core.patch import apply_changes, slugify
from breeze.core.principal import Principal
from breeze.db.base import utcnow
from breeze.tenancy import queries
from breeze.tenancy.errors import HasChildren, LimitReached, SlugTaken, UnknownTimezone
from breeze.tenancy.models import Organization, Partner, Site
from breeze.tenancy.schemas import (
    OrgCreate,
    OrgUpdate,
    PartnerCreate,
    PartnerUpdate,
    SiteCreate,
    SiteUpdate,
)

_TIMEZONES = frozenset(available_timezones())


async def _free_slug(
    session: AsyncSession,
    model: type[Partner] | type[Organization],
    wanted: str | None,
    name: str,
    partner_id: uuid.UUID | None = None,
    except_id: uuid.UUID | None = None,
) -> str:
    if wanted:
        if await queries.slug_in_use(
            session, model, wanted, partner_id=partner_id, except_id=except_id
        ):
            raise SlugTaken(wanted)
        return wanted
    base = slugify(name)
    candidate, n = base, 1
    while await queries.slug_in_use(session, model, candidate, partner_id=partner_id):
        n += 1
        candidate = f"{base}-{n}"
    return candidate


# Partners ------------------------------------------------------------------


async def do_create_partner(
    session: AsyncSession, *, actor: Principal, data: PartnerCreate
) -> Partner:
    actor.require("partners:write")
    slug = await _free_slug(session, Partner, data.slug, data.name)
    partner = Partner(id=uuid.uuid4(), **data.model_dump(exclude={"slug"}), slug=slug)
    session.add(partner)
    await session.flush()
    await record(
        session,
        actor=actor.actor,
        action="partner.create",
        resource_type="partner",
        resource_id=partner.id,
        resource_name=partner.name,
        partner_id=partner.id,
        details={"slug": slug, "type": partner.type, "plan": partner.plan},
    )
    return partner


async def do_update_partner(
    session: AsyncSession, *, actor: Principal, partner_id: uuid.UUID, data: PartnerUpdate
) -> Partner:
    partner = await queries.get_partner(session, actor, partner_id)
    actor.require("partners:write", partner_id=partner.id)
    changes = data.model_dump(exclude_unset=True)
    if changes.get("slug"):
        await _free_slug(session, Partner, changes["slug"], partner.name, except_id=partner.id)
    diff = apply_changes(
        partner, changes, required=frozenset({"name", "slug", "type", "plan", "settings"})
    )
    await record(
        session,
        actor=actor.actor,
        action="partner.update",
        resource_type="partner",
        resource_id=partner.id,
        resource_name=partner.name,
        partner_id=partner.id,
        details={"changes": diff},
    )
    return partner


async def do_delete_partner(
    session: AsyncSession, *, actor: Principal, partner_id: uuid.UUID
) -> None:
    partner = await queries.get_partner(session, actor, partner_id)
    actor.require("partners:delete", partner_id=partner.id)
    live = await queries.count_live_orgs(session, partner.id)
    if live:
        raise HasChildren(f"The partner still has {live} organization(s); delete them first")
    partner.deleted_at = utcnow()
    await record(
        session,
        actor=actor.actor,
        action="partner.delete",
        resource_type="partner",
        resource_id=partner.id,
        resource_name=partner.name,
        partner_id=partner.id,
    )


# Organizations -------------------------------------------------------------


async def do_create_org(
    session: AsyncSession, *, actor: Principal, data: OrgCreate
) -> Organization:
    partner = await queries.get_partner_for_child(session, actor, data.partner_id)
    actor.require("orgs:write", partner_id=partner.id)
    limit = partner.max_organizations
    if limit is not None and await queries.count_live_orgs(session, partner.id) >= limit:
        raise LimitReached(f"The partner's plan allows {limit} organization(s)")
    slug = await _free_slug(session, Organization, data.slug, data.name, partner_id=partner.id)
    org = Organization(id=uuid.uuid4(), **data.model_dump(exclude={"slug"}), slug=slug)
    session.add(org)
    await session.flush()
    await record(
        session,
        actor=actor.actor,
        action="org.create",
        resource_type="organization",
        resource_id=org.id,
        resource_name=org.name,
        partner_id=partner.id,
        org_id=org.id,
        details={"slug": slug, "status": org.status},
    )
    return org


async def do_update_org(
    session: AsyncSession, *, actor: Principal, org_id: uuid.UUID, data: OrgUpdate
) -> Organization:
    org = await queries.get_org(session, actor, org_id)
    actor.require("orgs:write", partner_id=org.partner_id, org_id=org.id)
    changes = data.model_dump(exclude_unset=True)
    start = changes.get("contract_start", org.contract_start)
    end = changes.get("contract_end", org.contract_end)
    if start and end and end < start:
        raise InvalidInput("contract_end must not be before contract_start", field="contract_end")
    if changes.get("slug"):
        await _free_slug(
            session,
            Organization,
            changes["slug"],
            org.name,
            partner_id=org.partner_id,
            except_id=org.id,
        )
    diff = apply_changes(
        org,
        changes,
        required=frozenset({"name", "slug", "type", "status", "settings", "billing_contact"}),
    )
    await record(
        session,
        actor=actor.actor,
        action="org.update",
        resource_type="organization",
        resource_id=org.id,
        resource_name=org.name,
        partner_id=org.partner_id,
        org_id=org.id,
        details={"changes": diff},
    )
    return org


async def do_delete_org(session: AsyncSession, *, actor: Principal, org_id: uuid.UUID) -> None:
    org = await queries.get_org(session, actor, org_id)
    actor.require("orgs:delete", partner_id=org.partner_id, org_id=org.id)
    now = utcnow()
    org.deleted_at = now
    result = await session.execute(
        update(Site).where(Site.org_id == org.id, Site.deleted_at.is_(None)).values(deleted_at=now)
    )
    await record(
        session,
        actor=actor.actor,
        action="org.delete",
        resource_type="organization",
        resource_id=org.id,
        resource_name=org.name,
        partner_id=org.partner_id,
        org_id=org.id,
        details={"sites_deleted": _rowcount(result)},
    )


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


# Sites ---------------------------------------------------------------------


def _check_timezone(tz: str | None) -> None:
    if tz is not None and tz not in _TIMEZONES:
        raise UnknownTimezone(tz)


async def do_create_site(
    session: AsyncSession, *, actor: Principal, org_id: uuid.UUID, data: SiteCreate
) -> Site:
    org = await queries.get_org(session, actor, org_id)
    actor.require("sites:write", partner_id=org.partner_id, org_id=org.id)
    _check_timezone(data.timezone)
    site = Site(
        id=uuid.uuid4(), partner_id=org.partner_id, org_id=org.id, **data.model_dump(mode="json")
    )
    session.add(site)
    await session.flush()
    await record(
        session,
        actor=actor.actor,
        action="site.create",
        resource_type="site",
        resource_id=site.id,
        resource_name=site.name,
        partner_id=org.partner_id,
        org_id=org.id,
    )
    return site


async def do_update_site(
    session: AsyncSession, *, actor: Principal, site_id: uuid.UUID, data: SiteUpdate
) -> Site:
    site = await queries.get_site(session, actor, site_id)
    actor.require("sites:write", partner_id=site.partner_id, org_id=site.org_id, site_id=site.id)
    changes = data.model_dump(mode="json", exclude_unset=True)
    _check_timezone(changes.get("timezone"))
    diff = apply_changes(
        site, changes, required=frozenset({"name", "address", "timezone", "contact", "settings"})
    )
    await record(
        session,
        actor=actor.actor,
        action="site.update",
        resource_type="site",
        resource_id=site.id,
        resource_name=site.name,
        partner_id=site.partner_id,
        org_id=site.org_id,
        details={"changes": diff},
    )
    return site


async def do_delete_site(session: AsyncSession, *, actor: Principal, site_id: uuid.UUID) -> None:
    site = await queries.get_site(session, actor, site_id)
    actor.require("sites:delete", partner_id=site.partner_id, org_id=site.org_id, site_id=site.id)
    site.deleted_at = utcnow()
    await record(
        session,
        actor=actor.actor,
        action="site.delete",
        resource_type="site",
        resource_id=site.id,
        resource_name=site.name,
        partner_id=site.partner_id,
        org_id=site.org_id,
    )
