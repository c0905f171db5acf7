"""HTML routes of the signed-out account pages: forgotten password, reset with a mailed
link, and the first-run set-up of a fresh installation (thin, like the JSON routes)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from starlette.responses import Response

from breeze.auth import account
from breeze.auth.cookies import clear_session_cookies, set_session_cookies
from breeze.auth.errors import AlreadySetUp, InvalidToken
from breeze.auth.pages import NO_STORE, confirmed, kept_headers, require, submitted
from breeze.auth.principals import request_actor
from breeze.auth.queries import live_reset_token
from breeze.auth.schemas import ForgotPasswordRequest, ResetPasswordRequest, SetupRequest
from breeze.auth.setup import do_first_run_setup, needs_setup
from breeze.core.errors import BreezeError
from breeze.web.context import AnonCtx, AnonCtxDep, redirect
from breeze.web.forms import field_errors, parse
from breeze.web.templating import render_page

router = APIRouter(include_in_schema=False)

NEW_PASSWORD = {
    "password": "Choose a new password",
    "password_confirm": "Type the new password again",
}


def _page(
    actx: AnonCtx,
    template: str,
    context: dict[str, Any],
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    values = {"errors": {}, "policy": actx.state.settings.auth, **context}
    return render_page(actx.request, template, values, status=status, headers=headers)


# Forgotten password -------------------------------------------------------------


@router.get("/forgot-password")
async def forgot_page(actx: AnonCtxDep) -> Response:
    return _page(actx, "auth/forgot.html", {"email": ""})


@router.post("/forgot-password")
async def forgot_submit(actx: AnonCtxDep) -> Response:
    request, state = actx.request, actx.state
    values = await submitted(request)
    email = str(values.get("email") or "")
    try:
        require(values, {"email": "Enter the email address of your account"})
        body = parse(ForgotPasswordRequest, {"email": email})
        async with state.db.write() as uow:
            await account.do_forgot_password(
                uow, state, actor=request_actor(request), email=str(body.email)
            )
    except BreezeError as exc:
        return _page(
            actx,
            "auth/forgot.html",
            {"email": email, "errors": field_errors(exc)},
            status=exc.status,
            headers=kept_headers(exc),
        )
    # The same answer whether or not the address has an account.
    return _page(actx, "auth/forgot.html", {"email": str(body.email), "sent": True})


# Reset with a mailed link ---------------------------------------------------------


def _invalid_link(actx: AnonCtx) -> Response:
    return _page(
        actx, "auth/reset.html", {"invalid": True, "token": ""}, status=400, headers=NO_STORE
    )


@router.get("/reset-password")
async def reset_page(actx: AnonCtxDep, token: str = Query("", max_length=200)) -> Response:
    async with actx.state.db.read() as s:
        usable = bool(token) and await live_reset_token(s, token) is not None
    if not usable:
        return _invalid_link(actx)
    return _page(actx, "auth/reset.html", {"token": token}, headers=NO_STORE)


@router.post("/reset-password")
async def reset_submit(actx: AnonCtxDep) -> Response:
    request, state = actx.request, actx.state
    values = await submitted(request)
    token = str(values.get("token") or "")
    try:
        if not token:
            raise InvalidToken()
        require(values, NEW_PASSWORD)
        confirmed(values, "password", "password_confirm")
        body = parse(ResetPasswordRequest, {"token": token, "password": values["password"]})
        async with state.db.write() as uow:
            await account.do_reset_password(
                uow, state, actor=request_actor(request), token=body.token, password=body.password
            )
    except InvalidToken:
        return _invalid_link(actx)
    except BreezeError as exc:
        return _page(
            actx,
            "auth/reset.html",
            {"token": token, "errors": field_errors(exc)},
            status=exc.status,
            headers=NO_STORE,
        )
    response = redirect(
        request, "/login", "Your password has been changed. Sign in with the new password."
    )
    clear_session_cookies(response)  # every session of the account has ended
    return response


# First-run set-up -------------------------------------------------------------------


@router.get("/setup")
async def setup_page(actx: AnonCtxDep) -> Response:
    async with actx.state.db.read() as s:
        if not await needs_setup(s):
            return redirect(actx.request, "/login")
    return _page(actx, "auth/setup.html", {"name": "", "email": ""})


@router.post("/setup")
async def setup_submit(actx: AnonCtxDep) -> Response:
    request, state = actx.request, actx.state
    values = await submitted(request)
    name, email = str(values.get("name") or ""), str(values.get("email") or "")
    try:
        async with state.db.read() as s:
            if not await needs_setup(s):  # say so before judging the form
                raise AlreadySetUp()
        require(
            values,
            {
                "name": "Enter your name",
                "email": "Enter your email address",
                "password": "Choose a password",
                "password_confirm": "Type the password again",
            },
        )
        confirmed(values, "password", "password_confirm")
        body = parse(SetupRequest, {"name": name, "email": email, "password": values["password"]})
        async with state.db.write() as uow:
            issued = await do_first_run_setup(
                uow.session,
                state,
                actor=request_actor(request),
                email=str(body.email),
                password=body.password,
                name=body.name,
            )
    except BreezeError as exc:
        context = {"name": name, "email": email, "errors": field_errors(exc)}
        return _page(actx, "auth/setup.html", context, status=exc.status)
    response = redirect(
        request,
        "/",
        "Breeze is ready. Next, add a partner and an organization under Settings, "
        "then an enrollment key to install agents.",
    )
    set_session_cookies(response, issued, state.settings.auth)
    return response
