"""Every write to users, memberships and invitations; each writes its audit row.

Delegation (no privilege escalation): a role is assigned only by someone holding
every permission of it at that place, and only where the role belongs; a partner
member only hands out organization reach they have themselves; and nobody changes
or removes the membership of someone whose role there exceeds their own.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from breeze.audit.actions import record
from breeze.auth.actions import Issued, open_session, revoke_sessions
from breeze.auth.passwords import check_policy, hash_password
from breeze.auth.queries import sessions_of
from breeze.core.errors import Forbidden, InvalidInput
from breeze.core.patch import apply_changes
from breeze.core.principal import Actor, Principal
from breeze.core.security import new_token, token_hash
from breeze.core.state import AppState
from breeze.db.base import utcnow
from breeze.db.engine import UnitOfWork
from breeze.mail.actions import queue_email
from breeze.rbac import queries as rbac
from breeze.rbac.actions import assignable_role
from breeze.settings import Settings
from breeze.users import queries
from breeze.users.errors import (
    AlreadyMember,
    InvitationInvalid,
    MembershipNotFound,
    NotInvited,
    SelfChange,
)
from breeze.users.models import Invitation, OrganizationUser, PartnerUser, User
from breeze.users.schemas import MembershipSet, UserInvite, UserUpdate

INVITATION_PREFIX = "brz_inv_"
Member = PartnerUser | OrganizationUser


def _org(m: Member) -> uuid.UUID | None:
    return m.org_id if isinstance(m, OrganizationUser) else None


def _describe(m: Member) -> dict[str, Any]:
    org_id = _org(m)
    return {
        "kind": "partner" if org_id is None else "organization",
        "partner_id": str(m.partner_id),
        "org_id": str(org_id) if org_id else None,
        "role_id": str(m.role_id),
    }


def _at(m: Member | rbac.Place) -> tuple[uuid.UUID | None, uuid.UUID | None]:
    return m.partner_id, m.org_id if not isinstance(m, PartnerUser) else None


def _audit_place(members: Iterable[Member]) -> tuple[uuid.UUID | None, uuid.UUID | None]:
    """The tenant an audit row about a user belongs to, when the user has just one."""
    ms = list(members)
    partners = {m.partner_id for m in ms}
    orgs = {_org(m) for m in ms}
    if len(partners) != 1:
        return None, None
    return partners.pop(), orgs.pop() if len(orgs) == 1 else None


async def _audit(
    session: AsyncSession,
    actor: Actor,
    action: str,
    user: User,
    at: tuple[uuid.UUID | None, uuid.UUID | None],
    details: dict[str, Any] | None = None,
) -> None:
    """The audit row of a write about `user`, filed under the tenant `at` (partner, org)."""
    partner_id, org_id = at
    await record(
        session,
        actor=actor,
        action=action,
        resource_type="user",
        resource_id=user.id,
        resource_name=user.email,
        partner_id=partner_id,
        org_id=org_id,
        details=details,
    )


async def _place(session: AsyncSession, actor: Principal, data: MembershipSet) -> rbac.Place:
    return await rbac.visible_place(
        session, actor, partner_id=data.partner_id, org_id=data.org_id, via=("users:read",)
    )


def _new_membership(
    user_id: uuid.UUID, place: rbac.Place, role_id: uuid.UUID, fields: dict[str, Any]
) -> Member:
    common = {"id": uuid.uuid4(), "partner_id": place.partner_id, "user_id": user_id}
    if place.org_id is None:
        return PartnerUser(**common, role_id=role_id, **fields)
    return OrganizationUser(**common, org_id=place.org_id, role_id=role_id, **fields)


async def _outranked(session: AsyncSession, actor: Principal, members: list[Member]) -> set[Member]:
    """Memberships whose role holds permissions the actor lacks there."""
    perms = await rbac.permissions_of_roles(session, {m.role_id for m in members})
    return {
        m
        for m in members
        if perms.get(m.role_id, frozenset())
        - actor.permissions_at(partner_id=m.partner_id, org_id=_org(m))
    }


async def _require_manage(
    session: AsyncSession, actor: Principal, members: list[Member], permission: str
) -> None:
    for m in members:
        actor.require(permission, partner_id=m.partner_id, org_id=_org(m))
    if await _outranked(session, actor, members):
        raise Forbidden("The user's role there holds permissions you do not hold")


def _ttl_text(seconds: int) -> str:
    if seconds >= 2 * 86400:
        return f"{seconds // 86400} days"
    return f"{seconds // 3600} hours" if seconds >= 2 * 3600 else f"{seconds // 60} minutes"


async def _revoke_invitations(session: AsyncSession, user_id: uuid.UUID) -> None:
    await session.execute(
        update(Invitation)
        .where(
            Invitation.user_id == user_id,
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
        )
        .values(revoked_at=utcnow())
    )


async def _send_invitation(
    uow: UnitOfWork, settings: Settings, *, user: User, actor: Principal, place: str | None
) -> None:
    """Revoke earlier invitations, store a new one (hashed) and mail its link."""
    await _revoke_invitations(uow.session, user.id)
    raw = new_token(INVITATION_PREFIX)
    ttl = settings.auth.invitation_ttl_seconds
    uow.session.add(
        Invitation(
            id=uuid.uuid4(),
            user_id=user.id,
            invited_by=actor.user_id,
            token_hash=token_hash(raw),
            expires_at=utcnow() + timedelta(seconds=ttl),
        )
    )
    where = f" to {place}" if place else ""
    link = f"{settings.server.public_url.rstrip('/')}/accept-invitation?token={raw}"
    body = (
        f"Hello,\n\n{actor.email or 'An administrator'} invited you{where} on Breeze.\n\n"
        f"Choose your password and sign in here:\n{link}\n\n"
        f"The link works once and expires in {_ttl_text(ttl)}.\n"
    )
    await queue_email(uow, to=user.email, subject=f"Your Breeze invitation{where}", body=body)


async def _send_notice(
    uow: UnitOfWork, settings: Settings, *, user: User, actor: Principal, place: str
) -> None:
    body = (
        f"Hello,\n\n{actor.email or 'An administrator'} gave you access to {place} on Breeze.\n\n"
        f"Sign in at {settings.server.public_url.rstrip('/')}/login\n"
    )
    await queue_email(uow, to=user.email, subject=f"You now have access to {place}", body=body)


# Invitations ---------------------------------------------------------------


async def do_invite(
    uow: UnitOfWork, *, actor: Principal, settings: Settings, data: UserInvite
) -> User:
    """Add a membership for an email address, creating the (invited) user if new."""
    session = uow.session
    place = await _place(session, actor, data)
    actor.require("users:write", partner_id=place.partner_id, org_id=place.org_id)
    role = await assignable_role(session, actor, data.role_id, place)
    fields = await queries.membership_columns(session, actor, place, data)
    email = str(data.email).lower()
    user = await queries.user_by_email(session, email)
    is_new = user is None
    if user is None:
        user = User(id=uuid.uuid4(), email=email, name=data.name or "", status="invited")
        session.add(user)
        await session.flush()
    elif await queries.membership_at(
        session, user.id, partner_id=place.partner_id, org_id=place.org_id
    ):
        raise AlreadyMember()
    member = _new_membership(user.id, place, role.id, fields)
    session.add(member)
    await session.flush()
    if user.status == "invited":
        await _send_invitation(uow, settings, user=user, actor=actor, place=place.name)
    else:
        await _send_notice(uow, settings, user=user, actor=actor, place=place.name)
    details = {**_describe(member), "role_name": role.name, "new_user": is_new}
    await _audit(session, actor.actor, "user.invite", user, _at(place), details)
    return user


async def do_resend_invitation(
    uow: UnitOfWork, *, actor: Principal, settings: Settings, user_id: uuid.UUID
) -> None:
    session = uow.session
    user = await queries.get_user(session, actor, user_id)
    if user.status != "invited":
        raise NotInvited()
    visible = (await queries.memberships_visible(session, actor, [user.id]))[user.id].all
    if not actor.is_platform_admin and not any(
        actor.can("users:write", partner_id=m.partner_id, org_id=_org(m)) for m in visible
    ):
        raise Forbidden("You do not have the 'users:write' permission for this user")
    await _send_invitation(uow, settings, user=user, actor=actor, place=None)
    await _audit(session, actor.actor, "user.invitation.resend", user, _audit_place(visible))


async def do_accept_invitation(
    session: AsyncSession,
    state: AppState,
    *,
    actor: Actor,
    token: str,
    password: str,
    name: str | None = None,
    cookie: bool = False,
) -> Issued:
    """Set the password of an invited user, activate them and sign them in (a token
    pair, or with `cookie` a console cookie session)."""
    now = utcnow()
    invitation = await queries.invitation_by_hash(session, token_hash(token.strip()))
    if (
        invitation is None
        or invitation.accepted_at is not None
        or invitation.revoked_at is not None
        or invitation.expires_at <= now
    ):
        raise InvitationInvalid()
    user = await queries.user_by_id(session, invitation.user_id)
    if user is None or user.status != "invited":
        raise InvitationInvalid()
    if name:
        user.name = name
    cfg = state.settings.auth
    check_policy(
        password,
        min_length=cfg.password_min_length,
        min_score=cfg.password_min_score,
        user_inputs=[user.email, user.name],
    )
    claimed = await session.execute(
        update(Invitation)
        .where(
            Invitation.id == invitation.id,
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
        )
        .values(accepted_at=now)
    )
    if int(getattr(claimed, "rowcount", 0) or 0) != 1:
        raise InvitationInvalid()  # accepted by a concurrent request
    await _revoke_invitations(session, user.id)
    user.password_hash = hash_password(password)
    user.status = "active"
    user.password_changed_at = now
    at = _audit_place((await queries.live_memberships(session, user.id)).all)
    me = Actor("user", user.id, user.email, actor.ip, actor.user_agent)
    await _audit(session, me, "user.invitation.accept", user, at)
    return await open_session(
        session, state, user=user, actor=actor, cookie=cookie, method="invitation"
    )


# Users and memberships -----------------------------------------------------


async def do_update_user(
    session: AsyncSession, *, actor: Principal, user_id: uuid.UUID, data: UserUpdate
) -> User:
    user = await queries.get_user(session, actor, user_id)
    members = (await queries.live_memberships(session, user.id)).all
    if not actor.is_platform_admin:
        if user.is_platform_admin or not members:
            raise Forbidden("Only a platform administrator may change this user")
        await _require_manage(session, actor, members, "users:write")
    changes = data.model_dump(exclude_unset=True)
    if changes.get("status") == "disabled" and user.id == actor.user_id:
        raise SelfChange("You cannot disable yourself", field="status")
    if changes.get("status") == "active" and user.password_hash is None:
        changes["status"] = "invited"  # never signed up: back to waiting for an invitation
    diff = apply_changes(user, changes, required=frozenset({"name", "status"}))
    details: dict[str, Any] = {"changes": diff}
    if "status" in diff and user.status == "disabled":
        ended = [s.id for s in await sessions_of(session, user.id)]
        details["sessions_revoked"] = await revoke_sessions(session, ended, "user_disabled")
        await _revoke_invitations(session, user.id)
    await _audit(session, actor.actor, "user.update", user, _audit_place(members), details)
    return user


async def do_set_membership(
    session: AsyncSession, *, actor: Principal, user_id: uuid.UUID, data: MembershipSet
) -> User:
    """Create or replace the user's membership at a partner or organization."""
    user = await queries.get_user(session, actor, user_id)
    place = await _place(session, actor, data)
    actor.require("users:write", partner_id=place.partner_id, org_id=place.org_id)
    role = await assignable_role(session, actor, data.role_id, place)
    fields = await queries.membership_columns(session, actor, place, data)
    member = await queries.membership_at(
        session, user.id, partner_id=place.partner_id, org_id=place.org_id
    )
    previous = None
    if member is None:
        member = _new_membership(user.id, place, role.id, fields)
        session.add(member)
    else:
        await _require_manage(session, actor, [member], "users:write")
        previous = _describe(member)
        member.role_id = role.id
        for column, value in fields.items():
            setattr(member, column, value)
    await session.flush()
    details = {**_describe(member), **fields, "role_name": role.name, "previous": previous}
    await _audit(session, actor.actor, "user.membership.set", user, _at(place), details)
    return user


async def do_remove_membership(
    session: AsyncSession,
    *,
    actor: Principal,
    user_id: uuid.UUID,
    partner_id: uuid.UUID | None = None,
    org_id: uuid.UUID | None = None,
) -> None:
    user = await queries.get_user(session, actor, user_id)
    if (partner_id is None) == (org_id is None):
        raise InvalidInput(
            "Give exactly one of partner_id and org_id",
            field="org_id" if partner_id else "partner_id",
        )
    visible = (await queries.memberships_visible(session, actor, [user.id]))[user.id]
    member: Member | None = (
        next((m for m in visible.partner if m.partner_id == partner_id), None)
        if org_id is None
        else next((m for m in visible.org if m.org_id == org_id), None)
    )
    if member is None:
        raise MembershipNotFound()
    await _require_manage(session, actor, [member], "users:delete")
    await session.delete(member)
    await session.flush()
    await _forget_if_orphan(session, user)
    what = _describe(member)
    await _audit(session, actor.actor, "user.membership.remove", user, _at(member), what)


async def do_remove_user(session: AsyncSession, *, actor: Principal, user_id: uuid.UUID) -> None:
    """Remove every membership of the user that the actor may remove."""
    user = await queries.get_user(session, actor, user_id)
    if user.id == actor.user_id:
        raise SelfChange("You cannot remove yourself")
    visible = (await queries.memberships_visible(session, actor, [user.id]))[user.id].all
    outranked = await _outranked(session, actor, visible)
    removable = [
        m
        for m in visible
        if m not in outranked and actor.can("users:delete", partner_id=m.partner_id, org_id=_org(m))
    ]
    if visible and not removable:
        raise Forbidden("You may not remove any of this user's memberships")
    for member in removable:
        await session.delete(member)
        await _audit(session, actor.actor, "user.remove", user, _at(member), _describe(member))
    await session.flush()
    await _forget_if_orphan(session, user)


async def _forget_if_orphan(session: AsyncSession, user: User) -> None:
    """An invited user with no membership left has nothing to accept any more."""
    if user.status == "invited" and not (await queries.live_memberships(session, user.id)).all:
        await _revoke_invitations(session, user.id)
