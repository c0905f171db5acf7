"""Listing and revoking sessions: one's own, or (with users:read / users:write) another
user's. A revoked session ends its refresh tokens and every access token naming it."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from breeze.audit.actions import record
from breeze.auth.account import signed_in_user
from breeze.auth.actions import revoke_sessions
from breeze.auth.models import Session
from breeze.auth.queries import active_sessions, live_session_of, sessions_of
from breeze.core.errors import Forbidden, NotFound
from breeze.core.principal import Principal
from breeze.core.state import AppState
from breeze.users.queries import get_user


class SessionNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("Session not found")


async def own_sessions(
    session: AsyncSession, state: AppState, principal: Principal
) -> list[Session]:
    user = await signed_in_user(session, principal)
    return await active_sessions(
        session, user.id, idle_timeout_seconds=state.settings.auth.session_idle_timeout_seconds
    )


async def sessions_of_user(
    session: AsyncSession, state: AppState, principal: Principal, user_id: uuid.UUID
) -> list[Session]:
    """Another user's live sessions; 404 unless the principal may read that user."""
    user = await get_user(session, principal, user_id, "users:read")
    return await active_sessions(
        session, user.id, idle_timeout_seconds=state.settings.auth.session_idle_timeout_seconds
    )


async def do_revoke_session(
    session: AsyncSession,
    *,
    principal: Principal,
    session_id: uuid.UUID,
    user_id: uuid.UUID | None = None,
) -> None:
    """Revoke a session: the caller's own (user_id None), or a user's the caller may write."""
    if user_id is None:
        user = await signed_in_user(session, principal)
        by = "self"
    else:
        user = await get_user(session, principal, user_id, "users:write")
        by = "self" if user.id == principal.user_id else "admin"
        if by == "admin" and user.is_platform_admin and not principal.is_platform_admin:
            raise Forbidden(
                "Only a platform administrator may end a platform administrator's session"
            )
    target = await live_session_of(session, user.id, session_id)
    if target is None:
        raise SessionNotFound()
    await revoke_sessions(session, [target.id], "revoked_by_user" if by == "self" else "revoked")
    await record(
        session,
        actor=principal.actor,
        action="auth.session.revoke",
        resource_type="session",
        resource_id=target.id,
        resource_name=user.email,
        details={
            "user_id": str(user.id),
            "by": by,
            "kind": target.kind,
            "current": target.id == principal.session_id,
        },
    )


async def do_revoke_other_sessions(session: AsyncSession, *, principal: Principal) -> int:
    """End every session of the caller except the one making the request."""
    user = await signed_in_user(session, principal)
    others = [s.id for s in await sessions_of(session, user.id) if s.id != principal.session_id]
    ended = await revoke_sessions(session, others, "revoked_by_user")
    if ended:
        await record(
            session,
            actor=principal.actor,
            action="auth.session.revoke_others",
            resource_type="user",
            resource_id=user.id,
            resource_name=user.email,
            details={"sessions_revoked": ended},
        )
    return ended
