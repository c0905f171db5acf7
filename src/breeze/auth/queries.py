"""Reads of sessions and tokens."""

from __future__ import annotations

import uuid
from datetime import timedelta

from fastapi import Request
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from breeze.auth.models import PasswordResetToken, RecoveryCode, RefreshToken, Session
from breeze.auth.principals import SESSION_COOKIE
from breeze.auth.schemas import MembershipOut, MeOut
from breeze.core.errors import Unauthorized
from breeze.core.principal import Principal
from breeze.core.security import token_hash
from breeze.db.base import utcnow
from breeze.rbac.models import Role
from breeze.rbac.queries import permissions_of_roles
from breeze.users.models import User
from breeze.users.queries import live_memberships, membership_out


async def refresh_token_by_value(session: AsyncSession, raw: str) -> RefreshToken | None:
    stmt = select(RefreshToken).where(RefreshToken.token_hash == token_hash(raw))
    return (await session.execute(stmt)).scalar_one_or_none()


async def sessions_of(
    session: AsyncSession, user_id: uuid.UUID, *, active_only: bool = True
) -> list[Session]:
    """A user's sessions (not revoked ones, unless active_only is False), newest first."""
    stmt = select(Session).where(Session.user_id == user_id)
    if active_only:
        stmt = stmt.where(Session.revoked_at.is_(None))
    return list((await session.execute(stmt.order_by(Session.created_at.desc()))).scalars())


async def reset_token_by_value(session: AsyncSession, raw: str) -> PasswordResetToken | None:
    stmt = select(PasswordResetToken).where(PasswordResetToken.token_hash == token_hash(raw))
    return (await session.execute(stmt)).scalar_one_or_none()


async def live_reset_token(session: AsyncSession, raw: str) -> PasswordResetToken | None:
    """The reset token of a mailed link, if it is unused and unexpired."""
    row = await reset_token_by_value(session, raw.strip())
    if row is None or row.used_at is not None or row.expires_at <= utcnow():
        return None
    return row


async def unused_recovery_codes(session: AsyncSession, user_id: uuid.UUID) -> int:
    """How many of the user's recovery codes are still usable."""
    stmt = (
        select(func.count())
        .select_from(RecoveryCode)
        .where(RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None))
    )
    return int((await session.execute(stmt)).scalar_one())


async def active_sessions(
    session: AsyncSession, user_id: uuid.UUID, *, idle_timeout_seconds: int
) -> list[Session]:
    """A user's sessions that can still be used: not revoked, not expired, and (for
    console sessions) not idle past the timeout. Newest first."""
    now = utcnow()
    idle_cutoff = now - timedelta(seconds=idle_timeout_seconds)
    stmt = (
        select(Session)
        .where(
            Session.user_id == user_id,
            Session.revoked_at.is_(None),
            Session.expires_at > now,
            or_(Session.kind != "web", Session.last_used_at > idle_cutoff),
        )
        .order_by(Session.created_at.desc(), Session.id)
    )
    return list((await session.execute(stmt)).scalars())


async def live_session_of(
    session: AsyncSession, user_id: uuid.UUID, session_id: uuid.UUID
) -> Session | None:
    """One of the user's sessions, if it is not revoked or expired."""
    stmt = select(Session).where(
        Session.id == session_id,
        Session.user_id == user_id,
        Session.revoked_at.is_(None),
        Session.expires_at > utcnow(),
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def me_of(session: AsyncSession, principal: Principal, request: Request) -> MeOut:
    """The signed-in user, their memberships and effective permissions."""
    if principal.user_id is None:
        raise Unauthorized()
    user = await session.get(User, principal.user_id)
    if user is None:
        raise Unauthorized()
    members = await live_memberships(session, user.id)
    role_ids = {m.role_id for m in members.partner} | {m.role_id for m in members.org}
    names = dict(
        (await session.execute(select(Role.id, Role.name).where(Role.id.in_(role_ids))))
        .tuples()
        .all()
    )
    perms = await permissions_of_roles(session, role_ids)
    out = [
        MembershipOut(
            **membership_out(m, names.get(m.role_id, "")).model_dump(),
            permissions=sorted(perms.get(m.role_id, frozenset())),
        )
        for m in members.all
    ]
    if principal.api_key_id is not None:
        method = "api_key"
    elif request.cookies.get(SESSION_COOKIE) and not request.headers.get("authorization"):
        method = "cookie"
    else:
        method = "token"
    return MeOut(
        id=user.id,
        email=user.email,
        name=user.name,
        status=user.status,
        is_platform_admin=user.is_platform_admin,
        mfa_enabled=user.mfa_enabled,
        last_login_at=user.last_login_at,
        auth_method=method,  # type: ignore[arg-type]
        memberships=out,
    )
