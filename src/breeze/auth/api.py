"""JSON routes of authentication."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from breeze.auth import actions
from breeze.auth.deps import CurrentCtx
from breeze.auth.principals import CSRF_COOKIE, SESSION_COOKIE, request_actor
from breeze.auth.queries import me_of
from breeze.auth.schemas import (
    CookieLogin,
    LoginRequest,
    LogoutRequest,
    MeOut,
    MfaRequired,
    MfaVerifyRequest,
    RefreshRequest,
    TokenPair,
)
from breeze.core.errors import Unauthorized
from breeze.core.state import AppState, app_state

router = APIRouter(prefix="/auth", tags=["auth"])
State = Annotated[AppState, Depends(app_state)]


def _answer(issued: actions.Issued, response: Response, state: AppState) -> TokenPair | CookieLogin:
    if issued.cookie_token is not None:
        secure = state.settings.auth.cookie_secure
        ttl = state.settings.auth.refresh_token_ttl_seconds
        response.set_cookie(
            SESSION_COOKIE,
            issued.cookie_token,
            max_age=ttl,
            httponly=True,
            secure=secure,
            samesite="lax",
            path="/",
        )
        # Readable by the console's scripts, which echo it in X-CSRF-Token.
        response.set_cookie(
            CSRF_COOKIE,
            issued.csrf_token or "",
            max_age=ttl,
            httponly=False,
            secure=secure,
            samesite="strict",
            path="/",
        )
        return CookieLogin(csrf_token=issued.csrf_token or "", expires_in=issued.expires_in)
    return TokenPair(
        access_token=issued.access_token or "",
        refresh_token=issued.refresh_token or "",
        expires_in=issued.expires_in,
    )


@router.post("/login", response_model=TokenPair | MfaRequired | CookieLogin)
async def login(
    body: LoginRequest, request: Request, response: Response, state: State
) -> TokenPair | MfaRequired | CookieLogin:
    async with state.db.write() as uow:
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


@router.post("/mfa/verify", response_model=TokenPair | CookieLogin)
async def verify_mfa(
    body: MfaVerifyRequest, request: Request, response: Response, state: State
) -> TokenPair | CookieLogin:
    async with state.db.write() as uow:
        issued = await actions.do_verify_mfa(
            uow.session,
            state,
            actor=request_actor(request),
            mfa_token=body.mfa_token,
            code=body.code,
        )
    return _answer(issued, response, state)


@router.post("/refresh", response_model=TokenPair)
async def refresh(body: RefreshRequest, request: Request, state: State) -> TokenPair:
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


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(ctx: CurrentCtx, response: Response, body: LogoutRequest | None = None) -> None:
    async with ctx.write() as uow:
        await actions.do_logout(
            uow.session,
            actor=ctx.actor,
            user_id=ctx.principal.user_id,
            session_id=ctx.principal.session_id,
            refresh_token=body.refresh_token if body else None,
        )
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")


@router.get("/me", response_model=MeOut)
async def me(ctx: CurrentCtx, request: Request) -> MeOut:
    async with ctx.read() as s:
        return await me_of(s, ctx.principal, request)
