"""Reads of users, memberships and invitations."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from breeze.core.errors import Forbidden, InvalidInput
from breeze.core.pagination import Filter, ListParams, ListSpec, paginate
from breeze.core.principal import Principal, restrict
from breeze.db.base import utcnow
from breeze.rbac.queries import Place, role_names
from breeze.tenancy.models import Organization, Partner
from breeze.tenancy.queries import live_org_ids, live_site_ids
from breeze.users.errors import UserNotFound
from breeze.users.models import Invitation, OrganizationUser, PartnerUser, User
from breeze.users.schemas import MembershipOut, MembershipSet, UserOut


@dataclass(frozen=True)
class Memberships:
    partner: list[PartnerUser] = field(default_factory=list)
    org: list[OrganizationUser] = field(default_factory=list)

    @property
    def all(self) -> list[PartnerUser | OrganizationUser]:
        return [*self.partner, *self.org]


def _live_partner_members(*what: Any) -> Select[Any]:
    return (
        select(*what)
        .join(Partner, Partner.id == PartnerUser.partner_id)
        .where(Partner.deleted_at.is_(None))
    )


def _live_org_members(*what: Any) -> Select[Any]:
    return (
        select(*what)
        .join(Organization, Organization.id == OrganizationUser.org_id)
        .join(Partner, Partner.id == Organization.partner_id)
        .where(Organization.deleted_at.is_(None), Partner.deleted_at.is_(None))
    )


async def live_memberships(session: AsyncSession, user_id: uuid.UUID) -> Memberships:
    """A user's memberships in partners and organizations that are not deleted."""
    partner_rows = await session.execute(
        _live_partner_members(PartnerUser).where(PartnerUser.user_id == user_id)
    )
    org_rows = await session.execute(
        _live_org_members(OrganizationUser).where(OrganizationUser.user_id == user_id)
    )
    return Memberships(list(partner_rows.scalars()), list(org_rows.scalars()))


async def user_by_email(session: AsyncSession, email: str) -> User | None:
    stmt = select(User).where(User.email == email.strip().lower())
    return (await session.execute(stmt)).scalar_one_or_none()


async def user_by_id(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    return await session.get(User, user_id)


def visible_user_ids(
    principal: Principal,
    permission: str = "users:read",
    *,
    partner_id: uuid.UUID | None = None,
    org_id: uuid.UUID | None = None,
) -> Select[Any]:
    """Ids of users holding a live membership the principal may `permission`,
    optionally only in one partner's tree or one organization."""
    via_org = restrict(
        _live_org_members(OrganizationUser.user_id), principal, permission, OrganizationUser
    )
    if org_id is not None:
        return via_org.where(OrganizationUser.org_id == org_id)
    via_partner = restrict(
        _live_partner_members(PartnerUser.user_id), principal, permission, PartnerUser
    )
    if partner_id is not None:
        via_partner = via_partner.where(PartnerUser.partner_id == partner_id)
        via_org = via_org.where(OrganizationUser.partner_id == partner_id)
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
    time_column=User.created_at,
)


def _scoped_users(principal: Principal, permission: str) -> Select[Any]:
    stmt = select(User)
    if principal.is_platform_admin:
        return stmt  # platform administrators see every account
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
    if partner_id is not None or org_id is not None:
        members = visible_user_ids(principal, partner_id=partner_id, org_id=org_id)
        stmt = stmt.where(User.id.in_(members))
    return await paginate(session, stmt, params, USER_LIST, User.id)


async def get_user(
    session: AsyncSession, principal: Principal, user_id: uuid.UUID, permission: str = "users:read"
) -> User:
    stmt = _scoped_users(principal, permission).where(User.id == user_id)
    user: User | None = (await session.execute(stmt)).scalar_one_or_none()
    if user is None:
        raise UserNotFound()
    return user


async def memberships_visible(
    session: AsyncSession, principal: Principal, user_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, Memberships]:
    """The live memberships of these users that the principal may see."""
    ids = set(user_ids)
    found: dict[uuid.UUID, Memberships] = defaultdict(Memberships)
    if not ids:
        return found
    p_stmt = restrict(
        _live_partner_members(PartnerUser), principal, "users:read", PartnerUser
    ).where(PartnerUser.user_id.in_(ids))
    o_stmt = restrict(
        _live_org_members(OrganizationUser), principal, "users:read", OrganizationUser
    ).where(OrganizationUser.user_id.in_(ids))
    for pu in (await session.execute(p_stmt.order_by(PartnerUser.created_at))).scalars():
        found[pu.user_id].partner.append(pu)
    for ou in (await session.execute(o_stmt.order_by(OrganizationUser.created_at))).scalars():
        found[ou.user_id].org.append(ou)
    return found


async def membership_at(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    partner_id: uuid.UUID,
    org_id: uuid.UUID | None,
) -> PartnerUser | OrganizationUser | None:
    """The user's membership at exactly this place (partner level when org_id is None)."""
    stmt: Select[Any]
    if org_id is None:
        stmt = select(PartnerUser).where(
            PartnerUser.user_id == user_id, PartnerUser.partner_id == partner_id
        )
    else:
        stmt = select(OrganizationUser).where(
            OrganizationUser.user_id == user_id, OrganizationUser.org_id == org_id
        )
    row: PartnerUser | OrganizationUser | None = (await session.execute(stmt)).scalar_one_or_none()
    return row


async def count_role_members(session: AsyncSession, role_id: uuid.UUID) -> int:
    """How many memberships (in any tenant, deleted or not) hold this role."""
    total = 0
    for model in (PartnerUser, OrganizationUser):
        stmt = select(func.count()).select_from(model).where(model.role_id == role_id)
        total += int((await session.execute(stmt)).scalar_one())
    return total


def _check_reach(
    principal: Principal, partner_id: uuid.UUID, access: str, org_ids: list[uuid.UUID]
) -> None:
    if principal.is_platform_admin:
        return
    grants = [
        g
        for g in principal.partner_grants
        if g.partner_id == partner_id and "users:write" in g.permissions
    ]
    if any(g.org_access == "all" for g in grants):
        return
    reach: set[uuid.UUID] = set()
    for g in grants:
        if g.org_access == "selected":
            reach |= g.org_ids
    if access == "all" or not set(org_ids) <= reach:
        raise Forbidden("You can only grant access to organizations you can reach yourself")


async def membership_columns(
    session: AsyncSession, principal: Principal, place: Place, data: MembershipSet
) -> dict[str, Any]:
    """The validated org_access/org_ids (partner) or site_ids (organization) columns of
    a membership at `place`: named organizations and sites must be live ones of that
    partner / organization (422), and a partner member only hands out organization
    reach they have themselves (403)."""
    if place.org_id is None:
        if data.site_ids is not None:
            raise InvalidInput("site_ids apply to organization memberships only", field="site_ids")
        access = data.org_access or "all"
        org_ids = list(dict.fromkeys(data.org_ids or []))
        if org_ids and access != "selected":
            raise InvalidInput("org_ids are used only with org_access 'selected'", field="org_ids")
        unknown = set(org_ids) - await live_org_ids(session, place.partner_id, org_ids)
        if unknown:
            listed = ", ".join(sorted(map(str, unknown)))
            raise InvalidInput(f"Not organizations of this partner: {listed}", field="org_ids")
        _check_reach(principal, place.partner_id, access, org_ids)
        return {"org_access": access, "org_ids": [str(o) for o in org_ids]}
    for name in ("org_access", "org_ids"):
        if getattr(data, name) is not None:
            raise InvalidInput(f"{name} applies to partner memberships only", field=name)
    if data.site_ids is None:
        return {"site_ids": None}
    site_ids = list(dict.fromkeys(data.site_ids))
    unknown = set(site_ids) - await live_site_ids(session, place.org_id, site_ids)
    if unknown:
        listed = ", ".join(sorted(map(str, unknown)))
        raise InvalidInput(f"Not sites of this organization: {listed}", field="site_ids")
    return {"site_ids": [str(s) for s in site_ids]}


async def invitation_by_hash(session: AsyncSession, hashed: str) -> Invitation | None:
    stmt = select(Invitation).where(Invitation.token_hash == hashed)
    return (await session.execute(stmt)).scalar_one_or_none()


def _ids(raw: list[Any] | None) -> list[uuid.UUID] | None:
    return None if raw is None else [uuid.UUID(str(v)) for v in raw]


def membership_out(m: PartnerUser | OrganizationUser, role_name: str) -> MembershipOut:
    if isinstance(m, PartnerUser):
        return MembershipOut(
            kind="partner",
            partner_id=m.partner_id,
            org_id=None,
            role_id=m.role_id,
            role_name=role_name,
            org_access=m.org_access,  # type: ignore[arg-type]
            org_ids=_ids(m.org_ids) or [],
        )
    return MembershipOut(
        kind="organization",
        partner_id=m.partner_id,
        org_id=m.org_id,
        role_id=m.role_id,
        role_name=role_name,
        site_ids=_ids(m.site_ids),
    )


async def user_views(
    session: AsyncSession, principal: Principal, users: list[User]
) -> list[UserOut]:
    """Users as the principal sees them: with the memberships they may see."""
    members = await memberships_visible(session, principal, [u.id for u in users])
    role_ids = {m.role_id for ms in members.values() for m in ms.all}
    names = await role_names(session, role_ids)
    return [
        UserOut(
            id=u.id,
            email=u.email,
            name=u.name,
            status=u.status,
            mfa_enabled=u.mfa_enabled,
            last_login_at=u.last_login_at,
            created_at=u.created_at,
            memberships=[membership_out(m, names.get(m.role_id, "")) for m in members[u.id].all],
        )
        for u in users
    ]


async def user_view(session: AsyncSession, principal: Principal, user: User) -> UserOut:
    return (await user_views(session, principal, [user]))[0]


async def count_platform_admins(session: AsyncSession) -> int:
    stmt = (
        select(func.count())
        .select_from(User)
        .where(User.is_platform_admin, User.status == "active")
    )
    return int((await session.execute(stmt)).scalar_one())


async def any_user_exists(session: AsyncSession) -> bool:
    return (await session.execute(select(User.id).limit(1))).first() is not None


# Console reads -------------------------------------------------------------


async def open_invitations(
    session: AsyncSession, user_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, Invitation]:
    """Each user's newest invitation that is neither accepted nor revoked (may be expired)."""
    ids = set(user_ids)
    if not ids:
        return {}
    stmt = (
        select(Invitation)
        .where(
            Invitation.user_id.in_(ids),
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
        )
        .order_by(Invitation.created_at)
    )
    return {inv.user_id: inv for inv in (await session.execute(stmt)).scalars()}


@dataclass(frozen=True)
class InvitationPreview:
    """What the accept-invitation page shows to the holder of a valid token."""

    email: str
    name: str
    invited_by: str
    places: list[tuple[str, str]]  # (partner or organization name, role name)
    expires_at: datetime


async def invitation_preview(session: AsyncSession, hashed: str) -> InvitationPreview | None:
    """The invitation behind a token hash, if it can still be accepted (None otherwise)."""
    invitation = await invitation_by_hash(session, hashed)
    if (
        invitation is None
        or invitation.accepted_at is not None
        or invitation.revoked_at is not None
        or invitation.expires_at <= utcnow()
    ):
        return None
    user = await session.get(User, invitation.user_id)
    if user is None or user.status != "invited":
        return None
    inviter = await session.get(User, invitation.invited_by) if invitation.invited_by else None
    members = await live_memberships(session, user.id)
    names = await role_names(session, {m.role_id for m in members.all})
    places: list[tuple[str, str]] = []
    if members.partner:
        rows = await session.execute(
            select(Partner.id, Partner.name).where(
                Partner.id.in_({m.partner_id for m in members.partner})
            )
        )
        partner_names = dict(rows.tuples().all())
        places += [
            (partner_names.get(m.partner_id, ""), names.get(m.role_id, "")) for m in members.partner
        ]
    if members.org:
        rows = await session.execute(
            select(Organization.id, Organization.name).where(
                Organization.id.in_({m.org_id for m in members.org})
            )
        )
        org_names = dict(rows.tuples().all())
        places += [(org_names.get(m.org_id, ""), names.get(m.role_id, "")) for m in members.org]
    who = "An administrator"
    if inviter is not None:
        who = f"{inviter.name} ({inviter.email})" if inviter.name else inviter.email
    return InvitationPreview(user.email, user.name, who, places, invitation.expires_at)


async def place_names(
    session: AsyncSession, memberships: Iterable[MembershipOut]
) -> dict[uuid.UUID, str]:
    """Names of the partners and organizations of memberships the caller already sees."""
    ms = list(memberships)
    partner_ids = {m.partner_id for m in ms if m.org_id is None}
    org_ids = {m.org_id for m in ms if m.org_id is not None}
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
