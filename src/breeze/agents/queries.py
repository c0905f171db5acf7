"""Reads of enrollment keys (through restrict()) and the lookups enrollment needs."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from breeze.agents.errors import EnrollmentKeyNotFound
from breeze.agents.models import EnrollmentKey
from breeze.core.pagination import Filter, ListParams, ListSpec, paginate
from breeze.core.principal import SYSTEM, Principal, fetch_visible, restrict
from breeze.devices.models import Device
from breeze.tenancy import queries as tenancy
from breeze.tenancy.errors import SiteNotFound
from breeze.tenancy.models import Site

ENROLLMENT_KEY_LIST = ListSpec(
    sortable={
        "name": EnrollmentKey.name,
        "created_at": EnrollmentKey.created_at,
        "expires_at": EnrollmentKey.expires_at,
        "uses": EnrollmentKey.uses,
    },
    default_sort="-created_at",
    searchable=(EnrollmentKey.name, EnrollmentKey.prefix),
    filters={
        "partner_id": Filter(EnrollmentKey.partner_id, uuid.UUID),
        "org_id": Filter(EnrollmentKey.org_id, uuid.UUID),
        "site_id": Filter(EnrollmentKey.site_id, uuid.UUID),
    },
    time_column=EnrollmentKey.created_at,
)


async def list_enrollment_keys(
    session: AsyncSession,
    principal: Principal,
    params: ListParams,
    *,
    revoked: bool | None = None,
) -> tuple[list[EnrollmentKey], int]:
    """Keys the principal may read; `revoked` keeps only revoked (True) or live (False) ones."""
    stmt = restrict(select(EnrollmentKey), principal, "enrollment_keys:read", EnrollmentKey)
    if revoked is not None:
        column = EnrollmentKey.revoked_at
        stmt = stmt.where(column.is_not(None) if revoked else column.is_(None))
    return await paginate(session, stmt, params, ENROLLMENT_KEY_LIST, EnrollmentKey.id)


async def get_enrollment_key(
    session: AsyncSession,
    principal: Principal,
    key_id: uuid.UUID,
    permission: str = "enrollment_keys:read",
) -> EnrollmentKey:
    key = await fetch_visible(session, principal, permission, EnrollmentKey, key_id)
    if key is None:
        raise EnrollmentKeyNotFound()
    return key


async def key_by_secret_hash(session: AsyncSession, key_hash: str) -> EnrollmentKey | None:
    """The key an agent presents (enrollment is not a tenant read: the secret is the proof)."""
    stmt = select(EnrollmentKey).where(EnrollmentKey.key_hash == key_hash)
    return (await session.execute(stmt)).scalar_one_or_none()


async def live_site(session: AsyncSession, site_id: uuid.UUID) -> Site | None:
    try:
        return await tenancy.get_site(session, SYSTEM, site_id)
    except SiteNotFound:
        return None


async def first_live_site(session: AsyncSession, org_id: uuid.UUID) -> Site | None:
    """The organization's oldest live site."""
    params = ListParams(page=1, per_page=1, sort="created_at", q=None, filters={})
    rows, _total = await tenancy.list_sites(session, SYSTEM, params, org_id=org_id)
    return rows[0] if rows else None


async def active_device_for_machine(
    session: AsyncSession, org_id: uuid.UUID, machine_id: str
) -> Device | None:
    stmt = select(Device).where(
        Device.org_id == org_id,
        Device.machine_id == machine_id,
        Device.decommissioned_at.is_(None),
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def count_active_devices(
    session: AsyncSession, *, partner_id: uuid.UUID | None = None, org_id: uuid.UUID | None = None
) -> int:
    stmt = select(func.count()).select_from(Device).where(Device.decommissioned_at.is_(None))
    if partner_id is not None:
        stmt = stmt.where(Device.partner_id == partner_id)
    if org_id is not None:
        stmt = stmt.where(Device.org_id == org_id)
    return int((await session.execute(stmt)).scalar_one())
