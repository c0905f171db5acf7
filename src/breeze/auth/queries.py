"""Reads of sessions and tokens."""

from __future__ import annotations

import uuid

from fastapi import Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from breeze.auth.models import RecoveryCode, RefreshToken, Session
from breeze.auth.principals import SESSION_COOKIE
from breeze.auth.schemas import MembershipOut, MeOut
from breeze.core.errors import Unauthorized
from breeze.core.principal import Principal
from breeze.core.security import token_hash
from breeze.rbac.models import Role
from breeze.rbac.queries import permissions_of_roles
from breeze.users.models import User
from breeze.users.queries import live_memberships


async def refresh_token_by_value(session: AsyncSession, raw: str) -> RefreshToken | None:
    stmt = select(RefreshToken).where(RefreshToken.token_hash == token_hash(raw))
    return (await session.execute(stmt)).scalar_one_or_none()


async def unused_recovery_code(
    session: AsyncSession, user_id: uuid.UUID, code_hash: str
) -> RecoveryCode | None:
    stmt = select(RecoveryCode).where(
        RecoveryCode.user_id == user_id,
        RecoveryCode.code_hash == code_hash,
        RecoveryCode.used_at.is_(None),
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def sessions_of(
    session: AsyncSession, user_id: uuid.UUID, *, active_only: bool = True
) -> list[Session]:
    stmt = select(Session).where(Session.user_id == user_id)
    if active_only:
        stmt = stmt.where(Session.revoked_at.is_(None))
    return list((await session.execute(stmt.order_by(Session.created_at.desc()))).scalars())


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
            kind="partner",
            partner_id=m.partner_id,
            org_id=None,
            role_id=m.role_id,
            role_name=names.get(m.role_id, ""),
            org_access=m.org_access,
            permissions=sorted(perms.get(m.role_id, frozenset())),
        )
        for m in members.partner
    ] + [
        MembershipOut(
            kind="organization",
            partner_id=m.partner_id,
            org_id=m.org_id,
            role_id=m.role_id,
            role_name=names.get(m.role_id, ""),
            site_ids=[uuid.UUID(str(s)) for s in m.site_ids] if m.site_ids is not None else None,
            permissions=sorted(perms.get(m.role_id, frozenset())),
        )
        for m in members.org
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
