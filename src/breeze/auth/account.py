"""The signed-in user's credentials: password change and reset, TOTP two-factor setup.

Sign-in itself lives in `breeze.auth.actions`; sessions in `breeze.auth.sessions`.
Writes to the credential columns of `users` happen here: auth owns credentials.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from breeze.audit.actions import record
from breeze.auth import mfa, passwords, throttle
from breeze.auth.actions import consume_second_factor, failed, open_mfa_secret
from breeze.auth.errors import (
    InvalidToken,
    MfaAlreadyEnabled,
    MfaNotEnabled,
    MfaSetupMissing,
    MfaUnreadable,
    UserOnly,
)
from breeze.auth.models import PasswordResetToken, RecoveryCode, Session
from breeze.auth.queries import live_reset_token
from breeze.core.errors import InvalidInput, Unauthorized
from breeze.core.patch import apply_changes
from breeze.core.principal import Actor, Principal
from breeze.core.security import SecretBox, new_token, token_hash
from breeze.core.state import AppState
from breeze.db.base import utcnow
from breeze.db.engine import UnitOfWork
from breeze.mail.actions import queue_email
from breeze.users.models import User
from breeze.users.queries import user_by_email

RESET_PREFIX = "brz_pr_"
RESET_SUBJECT = "Reset your Breeze password"
CHANGED_SUBJECT = "Your Breeze password was changed"


@dataclass(frozen=True)
class MfaSetup:
    secret: str
    otpauth_uri: str


async def signed_in_user(session: AsyncSession, principal: Principal) -> User:
    """The user behind a user principal (a session); API keys are refused."""
    if principal.api_key_id is not None or principal.session_id is None:
        raise UserOnly()
    user = await session.get(User, principal.user_id) if principal.user_id else None
    if user is None or user.status != "active":
        raise Unauthorized("The account is not active")
    return user


def _check_policy(state: AppState, user: User, password: str, field: str) -> None:
    cfg = state.settings.auth
    passwords.check_policy(
        password,
        min_length=cfg.password_min_length,
        min_score=cfg.password_min_score,
        user_inputs=[user.email, user.name, *user.email.split("@")[0].split(".")],
        field=field,
    )


def _set_password(user: User, password: str) -> None:
    user.password_hash = passwords.hash_password(password)
    user.password_changed_at = utcnow()


async def _notify_changed(uow: UnitOfWork, state: AppState, user: User, how: str) -> None:
    await queue_email(
        uow,
        to=user.email,
        subject=CHANGED_SUBJECT,
        body=(
            f"The password of your Breeze account {user.email} was {how}.\n\n"
            "If this was not you, reset your password right away at "
            f"{state.settings.server.public_url.rstrip('/')}/forgot-password "
            "and tell your administrator.\n"
        ),
    )


async def _revoke_others(
    session: AsyncSession, user_id: uuid.UUID, keep: uuid.UUID | None, reason: str
) -> int:
    stmt = update(Session).where(Session.user_id == user_id, Session.revoked_at.is_(None))
    if keep is not None:
        stmt = stmt.where(Session.id != keep)
    result = await session.execute(
        stmt.values(revoked_at=utcnow(), revoked_reason=reason).execution_options(
            synchronize_session=False
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


# Profile -------------------------------------------------------------------


async def do_update_profile(session: AsyncSession, *, principal: Principal, name: str) -> User:
    """Change the caller's own display name (no users:write needed for oneself)."""
    user = await signed_in_user(session, principal)
    diff = apply_changes(user, {"name": name}, required=frozenset({"name"}))
    if diff:
        await record(
            session,
            actor=principal.actor,
            action="user.update",
            resource_type="user",
            resource_id=user.id,
            resource_name=user.email,
            details={"changes": diff, "by": "self"},
        )
    return user


# Password ------------------------------------------------------------------


async def do_change_password(
    uow: UnitOfWork,
    state: AppState,
    *,
    principal: Principal,
    current_password: str,
    new_password: str,
) -> None:
    """Change the caller's password; their other sessions end, this one stays."""
    session = uow.session
    user = await signed_in_user(session, principal)
    actor = principal.actor
    await throttle.check(state.limiter, state.settings.auth, user.email, actor.ip)
    if not passwords.verify_password(user.password_hash, current_password):
        raise failed(
            InvalidInput("The current password is not correct", field="current_password"),
            actor,
            user.email,
            "auth.password.change",
            "wrong current password",
            user_id=user.id,
        )
    if current_password == new_password:
        raise InvalidInput(
            "The new password must differ from the current one", field="new_password"
        )
    _check_policy(state, user, new_password, "new_password")
    _set_password(user, new_password)
    ended = await _revoke_others(session, user.id, principal.session_id, "password_change")
    await record(
        session,
        actor=actor,
        action="auth.password.change",
        resource_type="user",
        resource_id=user.id,
        resource_name=user.email,
        details={"sessions_revoked": ended},
    )
    await _notify_changed(uow, state, user, "changed")
    await throttle.succeeded(state.limiter, user.email, actor.ip)


async def _use_reset_tokens(
    session: AsyncSession, which: ColumnElement[bool], now: datetime
) -> int:
    """Mark unused reset tokens used (consumed, or superseded by a newer one)."""
    result = await session.execute(
        update(PasswordResetToken)
        .where(which, PasswordResetToken.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def do_forgot_password(uow: UnitOfWork, state: AppState, *, actor: Actor, email: str) -> None:
    """Mail a reset link to an active account. Silent for unknown addresses."""
    email = email.strip().lower()
    await throttle.reset_requested(state.limiter, state.settings.auth, email, actor.ip)
    session = uow.session
    user = await user_by_email(session, email)
    if user is None or user.status != "active":
        return
    now = utcnow()
    await _use_reset_tokens(session, PasswordResetToken.user_id == user.id, now)
    raw = new_token(RESET_PREFIX)
    ttl = state.settings.auth.reset_token_ttl_seconds
    row = PasswordResetToken(
        id=uuid.uuid4(),
        user_id=user.id,
        token_hash=token_hash(raw),
        expires_at=now + timedelta(seconds=ttl),
        created_at=now,
    )
    session.add(row)
    await session.flush()
    link = f"{state.settings.server.public_url.rstrip('/')}/reset-password?token={raw}"
    await queue_email(
        uow,
        to=user.email,
        subject=RESET_SUBJECT,
        body=(
            f"Someone (hopefully you) asked to reset the password of the Breeze account "
            f"{user.email}.\n\n"
            f"Open this link within {max(1, ttl // 60)} minutes to choose a new password:\n"
            f"{link}\n\n"
            "The link works once. If you did not ask for this, ignore this email: "
            "your password stays as it is.\n"
        ),
    )
    await record(
        session,
        actor=Actor("user", user.id, user.email, actor.ip, actor.user_agent),
        action="auth.password.reset_request",
        resource_type="user",
        resource_id=user.id,
        resource_name=user.email,
        details={"token_id": str(row.id)},
    )


async def do_reset_password(
    uow: UnitOfWork, state: AppState, *, actor: Actor, token: str, password: str
) -> None:
    """Set a new password with a mailed token; every session of the user ends."""
    session = uow.session
    row = await live_reset_token(session, token)
    now = utcnow()
    if row is None:
        raise InvalidToken()
    user = await session.get(User, row.user_id)
    if user is None or user.status != "active":
        raise InvalidToken()
    _check_policy(state, user, password, "password")
    if not await _use_reset_tokens(session, PasswordResetToken.id == row.id, now):
        raise InvalidToken()  # a concurrent request used it first
    await _use_reset_tokens(session, PasswordResetToken.user_id == user.id, now)
    _set_password(user, password)
    ended = await _revoke_others(session, user.id, None, "password_reset")
    await record(
        session,
        actor=Actor("user", user.id, user.email, actor.ip, actor.user_agent),
        action="auth.password.reset",
        resource_type="user",
        resource_id=user.id,
        resource_name=user.email,
        details={"sessions_revoked": ended, "token_id": str(row.id)},
    )
    await _notify_changed(uow, state, user, "reset with an emailed link")
    # Proving control of the mailbox clears the failed-sign-in count of the account.
    await throttle.succeeded(state.limiter, user.email, actor.ip)


# Two-factor authentication ----------------------------------------------------


async def do_mfa_setup(session: AsyncSession, state: AppState, *, principal: Principal) -> MfaSetup:
    """Start TOTP setup: a new secret, kept pending until a code proves the app has it."""
    user = await signed_in_user(session, principal)
    if user.mfa_enabled:
        raise MfaAlreadyEnabled()
    secret = mfa.new_secret()
    user.mfa_pending_secret = SecretBox(state.secret).seal(secret)
    await record(
        session,
        actor=principal.actor,
        action="auth.mfa.setup",
        resource_type="user",
        resource_id=user.id,
        resource_name=user.email,
    )
    return MfaSetup(secret=secret, otpauth_uri=mfa.provisioning_uri(secret, user.email))


async def pending_mfa_setup(
    session: AsyncSession, state: AppState, *, principal: Principal
) -> MfaSetup | None:
    """The TOTP setup the caller started and has not confirmed yet (None when there is
    none, or when its secret was sealed with another server key: start again)."""
    user = await signed_in_user(session, principal)
    if user.mfa_enabled or not user.mfa_pending_secret:
        return None
    try:
        secret = open_mfa_secret(state, user.mfa_pending_secret)
    except MfaUnreadable:
        return None
    return MfaSetup(secret=secret, otpauth_uri=mfa.provisioning_uri(secret, user.email))


async def _new_recovery_codes(session: AsyncSession, user_id: uuid.UUID) -> list[str]:
    """Replace every recovery code of the user; the old ones stop working."""
    await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    codes = mfa.new_recovery_codes()
    now = utcnow()
    session.add_all(
        RecoveryCode(
            id=uuid.uuid4(), user_id=user_id, code_hash=mfa.recovery_code_hash(c), created_at=now
        )
        for c in codes
    )
    await session.flush()
    return codes


async def do_mfa_enable(
    session: AsyncSession, state: AppState, *, principal: Principal, code: str
) -> list[str]:
    """Turn TOTP on with a code from the pending secret; returns the recovery codes."""
    user = await signed_in_user(session, principal)
    if user.mfa_enabled:
        raise MfaAlreadyEnabled()
    if not user.mfa_pending_secret:
        raise MfaSetupMissing()
    secret = open_mfa_secret(state, user.mfa_pending_secret)
    step = mfa.matching_step(secret, code, None)
    if step is None:
        raise InvalidInput(
            "The code does not match; check the authenticator app and its clock", field="code"
        )
    user.mfa_secret = user.mfa_pending_secret
    user.mfa_pending_secret = None
    user.mfa_enabled = True
    user.mfa_last_counter = step
    codes = await _new_recovery_codes(session, user.id)
    await record(
        session,
        actor=principal.actor,
        action="auth.mfa.enable",
        resource_type="user",
        resource_id=user.id,
        resource_name=user.email,
        details={"method": "totp", "recovery_codes": len(codes)},
    )
    return codes


async def _second_factor_or_fail(
    session: AsyncSession, state: AppState, principal: Principal, user: User, code: str, action: str
) -> str:
    await throttle.check(state.limiter, state.settings.auth, user.email, principal.actor.ip)
    method = await consume_second_factor(session, state, user, code)
    if method is None:
        raise failed(
            InvalidInput("The code is not valid", field="code"),
            principal.actor,
            user.email,
            action,
            "bad code",
            user_id=user.id,
        )
    return method


async def do_mfa_disable(
    session: AsyncSession, state: AppState, *, principal: Principal, password: str, code: str
) -> None:
    """Turn TOTP off; needs the password and a TOTP or recovery code."""
    user = await signed_in_user(session, principal)
    if not user.mfa_enabled:
        raise MfaNotEnabled()
    await throttle.check(state.limiter, state.settings.auth, user.email, principal.actor.ip)
    if not passwords.verify_password(user.password_hash, password):
        raise failed(
            InvalidInput("The password is not correct", field="password"),
            principal.actor,
            user.email,
            "auth.mfa.disable",
            "wrong password",
            user_id=user.id,
        )
    method = await _second_factor_or_fail(session, state, principal, user, code, "auth.mfa.disable")
    user.mfa_enabled = False
    user.mfa_secret = None
    user.mfa_pending_secret = None
    user.mfa_last_counter = None
    await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    await record(
        session,
        actor=principal.actor,
        action="auth.mfa.disable",
        resource_type="user",
        resource_id=user.id,
        resource_name=user.email,
        details={"verified_with": method},
    )


async def do_regenerate_recovery_codes(
    session: AsyncSession, state: AppState, *, principal: Principal, code: str
) -> list[str]:
    """Ten new recovery codes for a TOTP or recovery code; the old ones stop working."""
    user = await signed_in_user(session, principal)
    if not user.mfa_enabled:
        raise MfaNotEnabled()
    method = await _second_factor_or_fail(
        session, state, principal, user, code, "auth.mfa.recovery_codes"
    )
    codes = await _new_recovery_codes(session, user.id)
    await record(
        session,
        actor=principal.actor,
        action="auth.mfa.recovery_codes",
        resource_type="user",
        resource_id=user.id,
        resource_name=user.email,
        details={"verified_with": method, "recovery_codes": len(codes)},
    )
    return codes
