"""HTML routes of signing in and out (thin: parse, act, answer like the JSON API).

/login runs the API's cookie sign-in (`do_login`); when the account has two-factor
authentication the challenge waits in a short-lived httponly cookie for /login/mfa
(`do_verify_mfa`). The account pages (password reset, first-run set-up) and the profile
are in views_account and views_profile, included here.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from breeze.auth import actions, views_account, views_profile
from breeze.auth.cookies import (
    MFA_COOKIE,
    clear_mfa_cookie,
    clear_session_cookies,
    set_mfa_cookie,
    set_session_cookies,
)
from breeze.auth.errors import InvalidCode
from breeze.auth.pages import kept_headers, require, submitted
from breeze.auth.principals import SESSION_COOKIE, request_actor, resolve_console
from breeze.auth.schemas import LoginRequest, MfaVerifyRequest
from breeze.auth.setup import needs_setup
from breeze.core.errors import BreezeError, InvalidInput, Unauthorized
from breeze.web.context import AnonCtx, AnonCtxDep, WebCtxDep, redirect, safe_next
from breeze.web.forms import field_errors, parse
from breeze.web.templating import render_page

router = APIRouter(include_in_schema=False)
router.include_router(views_account.router)
router.include_router(views_profile.router)

NEXT = Query("", max_length=2000, description="Where to go after signing in (a local path)")
MFA_CODE_HELP = "Enter the 6-digit code from your authenticator app, or one of your recovery codes"


def _with_next(path: str, target: str) -> str:
    return path if target == "/" else f"{path}?next={quote(target, safe='')}"


async def _signed_in(request: Request) -> bool:
    """Does the browser already hold a live console session?"""
    if not request.cookies.get(SESSION_COOKIE):
        return False
    try:
        await resolve_console(request)
    except BreezeError:
        return False
    return True


def _login_form(
    actx: AnonCtx,
    *,
    target: str,
    email: str = "",
    errors: dict[str, str] | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    context: dict[str, Any] = {"next": target, "email": email, "errors": errors or {}}
    return render_page(actx.request, "auth/login.html", context, status=status, headers=headers)


@router.get("/login")
async def login_page(actx: AnonCtxDep, next: str = NEXT) -> Response:
    target = safe_next(next)
    async with actx.state.db.read() as s:
        if await needs_setup(s):
            return redirect(actx.request, "/setup")
    if await _signed_in(actx.request):
        return redirect(actx.request, target)
    return _login_form(actx, target=target)


@router.post("/login")
async def login_submit(actx: AnonCtxDep) -> Response:
    request, state = actx.request, actx.state
    values = await submitted(request)
    target = safe_next(values.get("next"))
    email = str(values.get("email") or "")
    try:
        require(values, {"email": "Enter your email address", "password": "Enter your password"})
        body = parse(
            LoginRequest,
            {"email": email, "password": values.get("password"), "use_cookie": True},
        )
        async with actions.attempt(state) as uow:
            outcome = await actions.do_login(
                uow.session,
                state,
                actor=request_actor(request),
                email=str(body.email),
                password=body.password,
                cookie=True,
            )
    except BreezeError as exc:
        return _login_form(
            actx,
            target=target,
            email=email,
            errors=field_errors(exc),
            status=exc.status,
            headers=kept_headers(exc),
        )
    if isinstance(outcome, actions.MfaChallenge):
        response = redirect(request, _with_next("/login/mfa", target))
        set_mfa_cookie(response, outcome.mfa_token, state.settings.auth)
        return response
    response = redirect(request, target)
    set_session_cookies(response, outcome, state.settings.auth)
    clear_mfa_cookie(response)
    return response


def _restart(request: Request, target: str, message: str) -> Response:
    response = redirect(request, _with_next("/login", target), message, "warning")
    clear_mfa_cookie(response)
    return response


def _mfa_form(
    actx: AnonCtx,
    *,
    target: str,
    errors: dict[str, str] | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    context = {"next": target, "errors": errors or {}, "help": MFA_CODE_HELP}
    return render_page(actx.request, "auth/mfa.html", context, status=status, headers=headers)


@router.get("/login/mfa")
async def mfa_page(actx: AnonCtxDep, next: str = NEXT) -> Response:
    target = safe_next(next)
    if not actx.request.cookies.get(MFA_COOKIE):
        return _restart(actx.request, target, "The sign-in step expired; sign in again")
    return _mfa_form(actx, target=target)


@router.post("/login/mfa")
async def mfa_submit(actx: AnonCtxDep) -> Response:
    request, state = actx.request, actx.state
    values = await submitted(request)
    target = safe_next(values.get("next"))
    token = request.cookies.get(MFA_COOKIE, "")
    if not token:
        return _restart(request, target, "The sign-in step expired; sign in again")
    try:
        require(values, {"code": MFA_CODE_HELP})
        try:
            body = parse(MfaVerifyRequest, {"mfa_token": token, "code": values.get("code")})
        except InvalidInput:
            raise InvalidInput(MFA_CODE_HELP, field="code") from None
        async with actions.attempt(state) as uow:
            issued = await actions.do_verify_mfa(
                uow.session, state, actor=request_actor(request), mfa_token=token, code=body.code
            )
    except InvalidCode as exc:
        return _mfa_form(actx, target=target, errors=field_errors(exc), status=exc.status)
    except Unauthorized as exc:
        # The challenge expired, or the account changed since the password step.
        return _restart(request, target, exc.detail)
    except BreezeError as exc:
        return _mfa_form(
            actx,
            target=target,
            errors=field_errors(exc),
            status=exc.status,
            headers=kept_headers(exc),
        )
    if issued.cookie_token is None:  # a challenge of an API sign-in: not for the console
        return _restart(request, target, "The sign-in attempt is no longer valid; sign in again")
    response = redirect(request, target)
    set_session_cookies(response, issued, state.settings.auth)
    clear_mfa_cookie(response)
    return response


@router.post("/logout")
async def logout(ctx: WebCtxDep) -> Response:
    """End this console session (the account menu's Sign out)."""
    async with ctx.write() as uow:
        await actions.do_logout(uow.session, principal=ctx.principal)
    response = redirect(ctx.request, "/login", "You have signed out.", "info")
    clear_session_cookies(response)
    return response
