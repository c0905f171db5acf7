"""Reads of users and memberships."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from breeze.core.errors import NotFound
from breeze.core.pagination import Filter, ListParams, ListSpec, paginate
from breeze.core.principal import Principal, restrict
from breeze.tenancy.models import Organization, Partner
from breeze.users.models import OrganizationUser, PartnerUser, User


@dataclass(frozen=True)
class Memberships:
    partner: list[PartnerUser]
    org: list[OrganizationUser]


async def live_memberships(session: AsyncSession, user_id: uuid.UUID) -> Memberships:
    """A user's memberships in partners and organizations that are not deleted."""
    partner_rows = await session.execute(
        select(PartnerUser)
        .join(Partner, Partner.id == PartnerUser.partner_id)
        .where(PartnerUser.user_id == user_id, Partner.deleted_at.is_(None))
    )
    org_rows = await session.execute(
        select(OrganizationUser)
        .join(Organization, Organization.id == OrganizationUser.org_id)
        .join(Partner, Partner.id == Organization.partner_id)
        .where(
            OrganizationUser.user_id == user_id,
            Organization.deleted_at.is_(None),
            Partner.deleted_at.is_(None),
        )
    )
    return Memberships(list(partner_rows.scalars()), list(org_rows.scalars()))


async def user_by_email(session: AsyncSession, email: str) -> User | None:
    stmt = select(User).where(User.email == email.strip().lower())
    return (await session.execute(stmt)).scalar_one_or_none()


async def user_by_id(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    return await session.get(User, user_id)


def visible_user_ids(
    principal: Principal, permission: str = "users:read"
) -> Select[tuple[uuid.UUID]]:
    """Ids of users holding a membership the principal may `permission`."""
    via_partner = restrict(select(PartnerUser.user_id), principal, permission, PartnerUser)
    via_org = restrict(select(OrganizationUser.user_id), principal, permission, OrganizationUser)
    return via_partner.union(via_org)  # type: ignore[return-value]


USER_LIST = ListSpec(
    sortable={
        "email": User.email,
        "name": User.name,
        "status": User.status,
        "created_at": User.created_at,
        "last_login_at": User.last_login_at,
    },
    default_sort="email",
    searchable=(User.email, User.name),
    filters={"status": Filter(User.status)},
)


def _scoped_users(principal: Principal, permission: str) -> Select[tuple[User]]:
    stmt = select(User)
    if principal.is_platform_admin:
        return stmt
    return stmt.where(User.id.in_(visible_user_ids(principal, permission)))


async def list_users(
    session: AsyncSession,
    principal: Principal,
    params: ListParams,
    *,
    partner_id: uuid.UUID | None = None,
    org_id: uuid.UUID | None = None,
) -> tuple[list[User], int]:
    stmt = _scoped_users(principal, "users:read")
    if partner_id is not None:
        stmt = stmt.where(
            User.id.in_(select(PartnerUser.user_id).where(PartnerUser.partner_id == partner_id))
        )
    if org_id is not None:
        stmt = stmt.where(
            User.id.in_(select(OrganizationUser.user_id).where(OrganizationUser.org_id == org_id))
        )
    return await paginate(session, stmt, params, USER_LIST, User.id)


async def get_user(
    session: AsyncSession, principal: Principal, user_id: uuid.UUID, permission: str = "users:read"
) -> User:
    stmt = _scoped_users(principal, permission).where(User.id == user_id)
    user = (await session.execute(stmt)).scalar_one_or_none()
    if user is None:
        raise NotFound("User not found")
    return user


async def memberships_visible(
    session: AsyncSession, principal: Principal, user_id: uuid.UUID
) -> Memberships:
    """The memberships of a user that the principal may see."""
    p_stmt = restrict(select(PartnerUser), principal, "users:read", PartnerUser).where(
        PartnerUser.user_id == user_id
    )
    o_stmt = restrict(select(OrganizationUser), principal, "users:read", OrganizationUser).where(
        OrganizationUser.user_id == user_id
    )
    partner = list((await session.execute(p_stmt)).scalars())
    org = list((await session.execute(o_stmt)).scalars())
    return Memberships(partner, org)


async def count_platform_admins(session: AsyncSession) -> int:
    stmt = (
        select(func.count())
        .select_from(User)
        .where(User.is_platform_admin, User.status == "active")
    )
    return int((await session.execute(stmt)).scalar_one())


async def any_user_exists(session: AsyncSession) -> bool:
    return (await session.execute(select(User.id).limit(1))).first() is not None
