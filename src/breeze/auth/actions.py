"""Sign-in, the MFA step, token refresh with reuse detection, sign-out."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from breeze.audit.actions import record, record_alone
from breeze.auth import mfa, passwords, throttle, tokens
from breeze.auth.models import RefreshToken, Session
from breeze.auth.queries import refresh_token_by_value, unused_recovery_code
from breeze.core.errors import Forbidden, Unauthorized
from breeze.core.principal import Actor
from breeze.core.security import SecretBox, new_token, token_hash
from breeze.core.state import AppState
from breeze.db.base import utcnow
from breeze.users.models import User
from breeze.users.queries import user_by_email

REFRESH_PREFIX = "brz_rt_"
COOKIE_PREFIX = "brz_ws_"
BAD_CREDENTIALS = "Email or password is incorrect"


@dataclass(frozen=True)
class Issued:
    """What a successful sign-in hands out: tokens, or a console cookie session."""

    session_id: uuid.UUID
    access_token: str | None = None
    refresh_token: str | None = None
    cookie_token: str | None = None
    csrf_token: str | None = None
    expires_in: int = 0


@dataclass(frozen=True)
class MfaChallenge:
    mfa_token: str


def _user_actor(actor: Actor, user: User) -> Actor:
    return Actor(
        type="user", id=user.id, email=user.email, ip=actor.ip, user_agent=actor.user_agent
    )


async def _fail(state: AppState, actor: Actor, email: str, action: str, reason: str) -> None:
    await throttle.failed(state.limiter, state.settings.auth, email, actor.ip)
    await record_alone(
        state.db,
        actor=Actor("user", actor.id, email, actor.ip, actor.user_agent),
        action=action,
        resource_type="user",
        resource_name=email,
        result="failure",
        error_message=reason,
    )


async def open_session(
    session: AsyncSession,
    state: AppState,
    *,
    user: User,
    actor: Actor,
    cookie: bool,
    method: str,
) -> Issued:
    """Create a session for a verified user and write the sign-in audit row."""
    cfg = state.settings.auth
    now = utcnow()
    sess = Session(
        id=uuid.uuid4(),
        user_id=user.id,
        kind="web" if cookie else "api",
        ip_address=actor.ip,
        user_agent=(actor.user_agent or "")[:500] or None,
        created_at=now,
        last_used_at=now,
        expires_at=now + timedelta(seconds=cfg.refresh_token_ttl_seconds),
    )
    issued: Issued
    if cookie:
        raw = new_token(COOKIE_PREFIX)
        sess.token_hash = token_hash(raw)
        sess.csrf_token = secrets.token_urlsafe(32)
        issued = Issued(
            sess.id,
            cookie_token=raw,
            csrf_token=sess.csrf_token,
            expires_in=cfg.session_idle_timeout_seconds,
        )
    else:
        raw = new_token(REFRESH_PREFIX)
        issued = Issued(
            sess.id,
            access_token=tokens.access_token(
                state.secret, user_id=user.id, session_id=sess.id, ttl=cfg.access_token_ttl_seconds
            ),
            refresh_token=raw,
            expires_in=cfg.access_token_ttl_seconds,
        )
    session.add(sess)
    await session.flush()
    if not cookie:
        session.add(RefreshToken(id=uuid.uuid4(), session_id=sess.id, token_hash=token_hash(raw)))
    user.last_login_at = now
    await record(
        session,
        actor=_user_actor(actor, user),
        action="auth.login",
        resource_type="user",
        resource_id=user.id,
        resource_name=user.email,
        details={"method": method, "session_kind": sess.kind, "session_id": str(sess.id)},
    )
    return issued


async def do_login(
    session: AsyncSession,
    state: AppState,
    *,
    actor: Actor,
    email: str,
    password: str,
    cookie: bool,
) -> Issued | MfaChallenge:
    email = email.strip().lower()
    await throttle.check(state.limiter, state.settings.auth, email, actor.ip)
    user = await user_by_email(session, email)
    if user is None or not passwords.verify_password(user.password_hash, password):
        await _fail(state, actor, email, "auth.login", "bad credentials")
        raise Unauthorized(BAD_CREDENTIALS)
    if user.status != "active":
        await _fail(state, actor, email, "auth.login", f"account {user.status}")
        raise Forbidden("This account is disabled; ask an administrator")
    await throttle.succeeded(state.limiter, email, actor.ip)
    if user.password_hash and passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    if user.mfa_enabled:
        token = tokens.issue(
            state.secret,
            purpose="mfa",
            subject=user.id,
            ttl=state.settings.auth.mfa_token_ttl_seconds,
            cookie="1" if cookie else "0",
        )
        return MfaChallenge(token)
    return await open_session(
        session, state, user=user, actor=actor, cookie=cookie, method="password"
    )


async def do_verify_mfa(
    session: AsyncSession, state: AppState, *, actor: Actor, mfa_token: str, code: str
) -> Issued:
    claims = tokens.decode(state.secret, mfa_token, purpose="mfa")
    user = await session.get(User, uuid.UUID(claims["sub"]))
    if user is None or user.status != "active" or not user.mfa_enabled or not user.mfa_secret:
        raise Unauthorized("The sign-in attempt is no longer valid; sign in again")
    await throttle.check(state.limiter, state.settings.auth, user.email, actor.ip)
    method = await _check_second_factor(session, state, user, code)
    if method is None:
        await _fail(state, actor, user.email, "auth.mfa", "bad code")
        raise Unauthorized("The code is not valid")
    await throttle.succeeded(state.limiter, user.email, actor.ip)
    return await open_session(
        session, state, user=user, actor=actor, cookie=claims.get("cookie") == "1", method=method
    )


async def _check_second_factor(
    session: AsyncSession, state: AppState, user: User, code: str
) -> str | None:
    """'totp' or 'recovery_code' when `code` is good (and consumes it), else None."""
    secret = SecretBox(state.secret).open(user.mfa_secret or "")
    step = mfa.matching_step(secret, code, user.mfa_last_counter)
    if step is not None:
        user.mfa_last_counter = step
        return "totp"
    recovery = await unused_recovery_code(session, user.id, mfa.recovery_code_hash(code))
    if recovery is not None:
        recovery.used_at = utcnow()
        return "recovery_code"
    return None


async def do_refresh(
    session: AsyncSession, state: AppState, *, actor: Actor, raw: str
) -> Issued | None:
    """Rotate a refresh token. None means a reused token was caught: its session is
    revoked in this transaction, which the caller commits before answering 401."""
    link = await refresh_token_by_value(session, raw)
    if link is None:
        raise Unauthorized("The refresh token is not valid")
    sess = await session.get(Session, link.session_id)
    if sess is None or sess.revoked_at is not None or sess.expires_at <= utcnow():
        raise Unauthorized("The session has ended; sign in again")
    user = await session.get(User, sess.user_id)
    if user is None or user.status != "active":
        raise Unauthorized("The account is not active")
    if link.used_at is not None:
        # A used token came back: it was stolen or replayed. End the whole family.
        await revoke_sessions(session, [sess.id], "refresh_token_reuse")
        await record(
            session,
            actor=_user_actor(actor, user),
            action="auth.refresh_reuse",
            resource_type="session",
            resource_id=sess.id,
            resource_name=user.email,
            result="denied",
            error_message="refresh token reused; session revoked",
        )
        return None
    now = utcnow()
    link.used_at = now
    sess.last_used_at = now
    new_raw = new_token(REFRESH_PREFIX)
    session.add(RefreshToken(id=uuid.uuid4(), session_id=sess.id, token_hash=token_hash(new_raw)))
    ttl = state.settings.auth.access_token_ttl_seconds
    return Issued(
        sess.id,
        access_token=tokens.access_token(
            state.secret, user_id=user.id, session_id=sess.id, ttl=ttl
        ),
        refresh_token=new_raw,
        expires_in=ttl,
    )


async def revoke_sessions(session: AsyncSession, session_ids: list[uuid.UUID], reason: str) -> int:
    if not session_ids:
        return 0
    result = await session.execute(
        update(Session)
        .where(Session.id.in_(session_ids), Session.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def do_logout(
    session: AsyncSession,
    *,
    actor: Actor,
    user_id: uuid.UUID | None,
    session_id: uuid.UUID | None,
    refresh_token: str | None = None,
) -> None:
    """End the caller's session, and the one a given refresh token belongs to (if theirs)."""
    ended = [session_id] if session_id is not None else []
    if refresh_token:
        link = await refresh_token_by_value(session, refresh_token)
        owner = await session.get(Session, link.session_id) if link else None
        if owner is not None and owner.user_id == user_id:
            ended.append(owner.id)
    if not ended:
        return
    await revoke_sessions(session, ended, "logout")
    for sid in dict.fromkeys(ended):
        await record(
            session,
            actor=actor,
            action="auth.logout",
            resource_type="session",
            resource_id=sid,
            resource_name=actor.email,
        )
