"""Sign-in, the MFA step, token refresh with reuse detection, sign-out.

Credential checks run inside `attempt()`: a failed check raises AttemptFailed, the
transaction rolls back, and only then is the failure counted and audited (in a
transaction of its own, so the failure row survives the rollback and, on SQLite,
never waits for the write lock its own transaction holds).
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import or_, update
from sqlalchemy.ext.asyncio import AsyncSession

from breeze.audit.actions import record, record_alone
from breeze.auth import mfa, passwords, throttle, tokens
from breeze.auth.errors import AttemptFailed, InvalidCode, MfaUnreadable
from breeze.auth.models import RecoveryCode, RefreshToken, Session
from breeze.auth.queries import refresh_token_by_value
from breeze.core.errors import BreezeError, Forbidden, Unauthorized
from breeze.core.principal import Actor, Principal
from breeze.core.security import SecretBox, new_token, token_hash
from breeze.core.state import AppState
from breeze.db.base import utcnow
from breeze.db.engine import UnitOfWork
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


def _rowcount(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def password_version(password_hash: str | None) -> str:
    """A short fingerprint of the password hash: tokens carrying it die when it changes."""
    return token_hash(f"pv:{password_hash or ''}")[:16]


def failed(
    error: BreezeError,
    actor: Actor,
    email: str,
    action: str,
    reason: str,
    *,
    throttled: bool = True,
    user_id: uuid.UUID | None = None,
) -> AttemptFailed:
    return AttemptFailed(
        error,
        actor=Actor("user", user_id or actor.id, email, actor.ip, actor.user_agent),
        email=email,
        action=action,
        reason=reason,
        throttled=throttled,
        resource_id=user_id,
    )


async def settle(state: AppState, failure: AttemptFailed) -> None:
    """Count a failed attempt for throttling and audit it on its own."""
    if failure.throttled:
        await throttle.failed(state.limiter, state.settings.auth, failure.email, failure.actor.ip)
    await record_alone(
        state.db,
        actor=failure.actor,
        action=failure.action,
        resource_type=failure.resource_type,
        resource_id=failure.resource_id,
        resource_name=failure.email,
        result="failure",
        error_message=failure.reason,
    )


@asynccontextmanager
async def attempt(state: AppState) -> AsyncIterator[UnitOfWork]:
    """A write transaction around a credential check (see the module docstring)."""
    try:
        async with state.db.write() as uow:
            yield uow
    except AttemptFailed as failure:
        await settle(state, failure)
        raise failure.error from None


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
        raise failed(Unauthorized(BAD_CREDENTIALS), actor, email, "auth.login", "bad credentials")
    if user.status != "active":
        raise failed(
            Forbidden("This account is disabled; ask an administrator"),
            actor,
            email,
            "auth.login",
            f"account {user.status}",
            user_id=user.id,
        )
    if user.password_hash and passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    if user.mfa_enabled:
        # The account's failure count is kept until the second factor is proven too,
        # so knowing the password does not reset the budget for guessing codes.
        token = tokens.issue(
            state.secret,
            purpose="mfa",
            subject=user.id,
            ttl=state.settings.auth.mfa_token_ttl_seconds,
            cookie="1" if cookie else "0",
            pv=password_version(user.password_hash),
        )
        return MfaChallenge(token)
    await throttle.succeeded(state.limiter, email, actor.ip)
    return await open_session(
        session, state, user=user, actor=actor, cookie=cookie, method="password"
    )


async def do_verify_mfa(
    session: AsyncSession, state: AppState, *, actor: Actor, mfa_token: str, code: str
) -> Issued:
    claims = tokens.decode(state.secret, mfa_token, purpose="mfa")
    try:
        user_id = uuid.UUID(claims["sub"])
    except (KeyError, ValueError):
        raise Unauthorized("The token is not valid") from None
    user = await session.get(User, user_id)
    if (
        user is None
        or user.status != "active"
        or not user.mfa_enabled
        or not user.mfa_secret
        or claims.get("pv") != password_version(user.password_hash)
    ):
        raise Unauthorized("The sign-in attempt is no longer valid; sign in again")
    await throttle.check(state.limiter, state.settings.auth, user.email, actor.ip)
    method = await consume_second_factor(session, state, user, code)
    if method is None:
        raise failed(
            InvalidCode(),
            actor,
            user.email,
            "auth.mfa",
            "bad code",
            user_id=user.id,
        )
    await throttle.succeeded(state.limiter, user.email, actor.ip)
    return await open_session(
        session, state, user=user, actor=actor, cookie=claims.get("cookie") == "1", method=method
    )


def open_mfa_secret(state: AppState, sealed: str | None) -> str:
    try:
        return SecretBox(state.secret).open(sealed or "")
    except ValueError:
        raise MfaUnreadable() from None


async def consume_second_factor(
    session: AsyncSession, state: AppState, user: User, code: str
) -> str | None:
    """'totp' or 'recovery_code' when `code` is good, else None.

    A good code is consumed with a conditional UPDATE, so two concurrent requests
    carrying the same code cannot both succeed (the loser matches no row).
    """
    step: int | None = None
    if user.mfa_secret:
        try:
            secret = SecretBox(state.secret).open(user.mfa_secret)
        except ValueError:
            secret = None  # a recovery code still works
        if secret is not None:
            step = mfa.matching_step(secret, code, user.mfa_last_counter)
    if step is not None:
        claimed = await session.execute(
            update(User)
            .where(
                User.id == user.id,
                or_(User.mfa_last_counter.is_(None), User.mfa_last_counter < step),
            )
            .values(mfa_last_counter=step)
            .execution_options(synchronize_session=False)
        )
        if _rowcount(claimed):
            return "totp"
        return None
    used = await session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == mfa.recovery_code_hash(code),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return "recovery_code" if _rowcount(used) else None


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
    now = utcnow()
    claimed = await session.execute(
        update(RefreshToken)
        .where(RefreshToken.id == link.id, RefreshToken.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if not _rowcount(claimed):
        # A used token came back (or two requests raced with one token): it was
        # stolen or replayed. End the whole family, and every access token with it.
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
    session: AsyncSession, *, principal: Principal, refresh_token: str | None = None
) -> None:
    """End the caller's session, and the one a given refresh token belongs to (if theirs).

    API keys have no session; for them this does nothing.
    """
    if principal.api_key_id is not None or principal.user_id is None:
        return
    ended = [principal.session_id] if principal.session_id is not None else []
    if refresh_token:
        link = await refresh_token_by_value(session, refresh_token)
        owner = await session.get(Session, link.session_id) if link else None
        if owner is not None and owner.user_id == principal.user_id:
            ended.append(owner.id)
    if not ended:
        return
    await revoke_sessions(session, ended, "logout")
    for sid in dict.fromkeys(ended):
        await record(
            session,
            actor=principal.actor,
            action="auth.logout",
            resource_type="session",
            resource_id=sid,
            resource_name=principal.email,
        )
