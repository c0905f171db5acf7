"""JSON routes of authentication (thin: parse, act, answer).

Everything lives under /auth except the administrators' view of a user's sessions,
under /users/{user_id}/sessions; app.py mounts this one router under /api/v1.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from breeze.auth import account, actions, sessions
from breeze.auth.cookies import clear_session_cookies, set_session_cookies
from breeze.auth.deps import CurrentCtx
from breeze.auth.models import Session
from breeze.auth.principals import request_actor
from breeze.auth.queries import me_of
from breeze.auth.schemas import (
    Accepted,
    ChangePasswordRequest,
    CookieLogin,
    ForgotPasswordRequest,
    LoginRequest,
    LogoutRequest,
    MeOut,
    MfaCodeRequest,
    MfaDisableRequest,
    MfaRequired,
    MfaSetupOut,
    MfaVerifyRequest,
    ProfileUpdate,
    RecoveryCodesOut,
    RefreshRequest,
    ResetPasswordRequest,
    SessionOut,
    SessionsRevoked,
    TokenPair,
)
from breeze.core.errors import Unauthorized
from breeze.core.principal import Principal
from breeze.core.state import AppState, app_state

router = APIRouter(tags=["auth"])
State = Annotated[AppState, Depends(app_state)]


def _answer(issued: actions.Issued, response: Response, state: AppState) -> TokenPair | CookieLogin:
    if issued.cookie_token is not None:
        set_session_cookies(response, issued, state.settings.auth)
        return CookieLogin(csrf_token=issued.csrf_token or "", expires_in=issued.expires_in)
    return TokenPair(
        access_token=issued.access_token or "",
        refresh_token=issued.refresh_token or "",
        expires_in=issued.expires_in,
    )


@router.post("/auth/login", response_model=TokenPair | MfaRequired | CookieLogin)
async def login(
    body: LoginRequest, request: Request, response: Response, state: State
) -> TokenPair | MfaRequired | CookieLogin:
    """Sign in with email and password: a token pair, a console cookie session
    (use_cookie), or an MFA challenge to finish at /auth/mfa/verify. Failures are
    throttled per account and per address (429 with Retry-After)."""
    async with actions.attempt(state) as uow:
        outcome = await actions.do_login(
            uow.session,
            state,
            actor=request_actor(request),
            email=str(body.email),
            password=body.password,
            cookie=body.use_cookie,
        )
    if isinstance(outcome, actions.MfaChallenge):
        return MfaRequired(mfa_token=outcome.mfa_token)
    return _answer(outcome, response, state)


@router.post("/auth/mfa/verify", response_model=TokenPair | CookieLogin)
async def verify_mfa(
    body: MfaVerifyRequest, request: Request, response: Response, state: State
) -> TokenPair | CookieLogin:
    """Finish a sign-in with a TOTP code or a single-use recovery code."""
    async with actions.attempt(state) as uow:
        issued = await actions.do_verify_mfa(
            uow.session,
            state,
            actor=request_actor(request),
            mfa_token=body.mfa_token,
            code=body.code,
        )
    return _answer(issued, response, state)


@router.post("/auth/refresh", response_model=TokenPair)
async def refresh(body: RefreshRequest, request: Request, state: State) -> TokenPair:
    """Trade a refresh token for a new pair. Each refresh token works once: presenting
    a used one ends its session, with every token it issued."""
    async with state.db.write() as uow:
        issued = await actions.do_refresh(
            uow.session, state, actor=request_actor(request), raw=body.refresh_token
        )
    if issued is None:
        raise Unauthorized("This refresh token was already used; the session has been revoked")
    return TokenPair(
        access_token=issued.access_token or "",
        refresh_token=issued.refresh_token or "",
        expires_in=issued.expires_in,
    )


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(ctx: CurrentCtx, response: Response, body: LogoutRequest | None = None) -> None:
    """End this session (and the one of `refresh_token`, if it is yours)."""
    async with ctx.write() as uow:
        await actions.do_logout(
            uow.session,
            principal=ctx.principal,
            refresh_token=body.refresh_token if body else None,
        )
    clear_session_cookies(response)


@router.get("/auth/me", response_model=MeOut)
async def me(ctx: CurrentCtx, request: Request) -> MeOut:
    """The signed-in user, their memberships and permissions."""
    async with ctx.read() as s:
        return await me_of(s, ctx.principal, request)


@router.patch("/auth/me", response_model=MeOut)
async def update_me(ctx: CurrentCtx, request: Request, body: ProfileUpdate) -> MeOut:
    """Change your own display name."""
    async with ctx.write() as uow:
        await account.do_update_profile(uow.session, principal=ctx.principal, name=body.name)
    async with ctx.read() as s:
        return await me_of(s, ctx.principal, request)


# Password --------------------------------------------------------------------


@router.post("/auth/forgot-password", response_model=Accepted, status_code=status.HTTP_202_ACCEPTED)
async def forgot_password(body: ForgotPasswordRequest, request: Request, state: State) -> Accepted:
    """Mail a reset link if the address belongs to an active account; the answer is the
    same either way, so it does not tell who has an account."""
    async with state.db.write() as uow:
        await account.do_forgot_password(
            uow, state, actor=request_actor(request), email=str(body.email)
        )
    return Accepted()


@router.post("/auth/reset-password", status_code=status.HTTP_204_NO_CONTENT)
async def reset_password(body: ResetPasswordRequest, request: Request, state: State) -> None:
    """Choose a new password with the token of a mailed link; every session ends."""
    async with state.db.write() as uow:
        await account.do_reset_password(
            uow, state, actor=request_actor(request), token=body.token, password=body.password
        )


@router.post("/auth/change-password", status_code=status.HTTP_204_NO_CONTENT)
async def change_password(ctx: CurrentCtx, body: ChangePasswordRequest) -> None:
    """Change your password; your other sessions end, this one stays."""
    async with actions.attempt(ctx.state) as uow:
        await account.do_change_password(
            uow,
            ctx.state,
            principal=ctx.principal,
            current_password=body.current_password,
            new_password=body.new_password,
        )


# Two-factor authentication -------------------------------------------------------


@router.post("/auth/mfa/setup", response_model=MfaSetupOut)
async def mfa_setup(ctx: CurrentCtx) -> MfaSetupOut:
    """Start TOTP setup: a new secret for an authenticator app (pending until enabled)."""
    async with ctx.write() as uow:
        setup = await account.do_mfa_setup(uow.session, ctx.state, principal=ctx.principal)
    return MfaSetupOut(secret=setup.secret, otpauth_uri=setup.otpauth_uri)


@router.post("/auth/mfa/enable", response_model=RecoveryCodesOut)
async def mfa_enable(ctx: CurrentCtx, body: MfaCodeRequest) -> RecoveryCodesOut:
    """Turn TOTP on with a code from the app; answers ten single-use recovery codes."""
    async with ctx.write() as uow:
        codes = await account.do_mfa_enable(
            uow.session, ctx.state, principal=ctx.principal, code=body.code
        )
    return RecoveryCodesOut(recovery_codes=codes)


@router.post("/auth/mfa/disable", status_code=status.HTTP_204_NO_CONTENT)
async def mfa_disable(ctx: CurrentCtx, body: MfaDisableRequest) -> None:
    """Turn TOTP off; needs your password and a TOTP or recovery code."""
    async with actions.attempt(ctx.state) as uow:
        await account.do_mfa_disable(
            uow.session, ctx.state, principal=ctx.principal, password=body.password, code=body.code
        )


@router.post("/auth/mfa/recovery-codes", response_model=RecoveryCodesOut)
async def mfa_recovery_codes(ctx: CurrentCtx, body: MfaCodeRequest) -> RecoveryCodesOut:
    """Ten new recovery codes (needs a TOTP or recovery code); the old ones stop working."""
    async with actions.attempt(ctx.state) as uow:
        codes = await account.do_regenerate_recovery_codes(
            uow.session, ctx.state, principal=ctx.principal, code=body.code
        )
    return RecoveryCodesOut(recovery_codes=codes)


# Sessions --------------------------------------------------------------------------


def _sessions_out(rows: list[Session], principal: Principal) -> list[SessionOut]:
    return [
        SessionOut.model_validate(r).model_copy(update={"current": r.id == principal.session_id})
        for r in rows
    ]


@router.get("/auth/sessions", response_model=list[SessionOut])
async def list_own_sessions(ctx: CurrentCtx) -> list[SessionOut]:
    """Your live sessions; `current` marks the one making this request."""
    async with ctx.read() as s:
        rows = await sessions.own_sessions(s, ctx.state, ctx.principal)
    return _sessions_out(rows, ctx.principal)


@router.delete("/auth/sessions/{session_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_own_session(ctx: CurrentCtx, session_id: uuid.UUID) -> None:
    """End one of your sessions (404 for anyone else's)."""
    async with ctx.write() as uow:
        await sessions.do_revoke_session(
            uow.session, principal=ctx.principal, session_id=session_id
        )


@router.post("/auth/sessions/revoke-others", response_model=SessionsRevoked)
async def revoke_other_sessions(ctx: CurrentCtx) -> SessionsRevoked:
    """End every session of yours except this one."""
    async with ctx.write() as uow:
        ended = await sessions.do_revoke_other_sessions(uow.session, principal=ctx.principal)
    return SessionsRevoked(revoked=ended)


@router.get("/users/{user_id}/sessions", response_model=list[SessionOut], tags=["users"])
async def list_user_sessions(ctx: CurrentCtx, user_id: uuid.UUID) -> list[SessionOut]:
    """A user's live sessions (needs users:read over that user)."""
    async with ctx.read() as s:
        rows = await sessions.sessions_of_user(s, ctx.state, ctx.principal, user_id)
    return _sessions_out(rows, ctx.principal)


@router.delete(
    "/users/{user_id}/sessions/{session_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["users"],
)
async def revoke_user_session(ctx: CurrentCtx, user_id: uuid.UUID, session_id: uuid.UUID) -> None:
    """End a user's session (needs users:write over that user)."""
    async with ctx.write() as uow:
        await sessions.do_revoke_session(
            uow.session, principal=ctx.principal, session_id=session_id, user_id=user_id
        )
