"""HTML routes of /profile: your name, password, two-factor authentication and sessions
(thin: the same account and session actions as /api/v1/auth/*)."""

from __future__ import annotations

import re
import uuid
from typing import Any

import segno
from fastapi import APIRouter
from markupsafe import Markup
from starlette.responses import Response

from breeze.auth import account, actions, sessions
from breeze.auth.cookies import clear_session_cookies
from breeze.auth.pages import NO_STORE, confirmed, require, submitted
from breeze.auth.queries import unused_recovery_codes
from breeze.auth.schemas import (
    ChangePasswordRequest,
    MfaCodeRequest,
    MfaDisableRequest,
    ProfileUpdate,
)
from breeze.core.errors import BreezeError, InvalidInput
from breeze.web.context import WebCtx, WebCtxDep, redirect
from breeze.web.forms import field_errors, parse
from breeze.web.templating import render

router = APIRouter(include_in_schema=False)

CODE_HELP = "Enter the 6-digit code from your authenticator app"
CODE_OR_RECOVERY = "Enter a code from your authenticator app, or one of your recovery codes"


def qr_svg(uri: str) -> Markup:
    """The otpauth:// URI as an inline SVG QR code (dark on white, scannable in any theme)."""
    svg = segno.make(uri, error="m").svg_inline(scale=5, border=2, dark="#000", light="#fff")
    return Markup(svg)  # noqa: S704 - segno's own markup; it escapes the data it encodes


_BROWSERS = (("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"))
_SYSTEMS = (
    ("Windows", "Windows"),
    ("Android", "Android"),
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)


def device_of(user_agent: str | None) -> str:
    """'Chrome on Linux' from a User-Agent header; the raw header when it is not a browser."""
    if not user_agent:
        return "Unknown device"
    browser = next((name for key, name in _BROWSERS if key in user_agent), None)
    if browser is None and "Safari/" in user_agent:
        browser = "Safari"
    system = next((name for key, name in _SYSTEMS if key in user_agent), None)
    if browser and system:
        return f"{browser} on {system}"
    short = re.split(r"[\s(]", user_agent.strip(), maxsplit=1)[0]
    return short[:60] or "Unknown device"


async def _page(
    ctx: WebCtx,
    *,
    form: str = "",
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    """The profile page; `form` names the form whose `errors` and `values` to show."""
    async with ctx.read() as s:
        user = await account.signed_in_user(s, ctx.principal)
        pending = await account.pending_mfa_setup(s, ctx.state, principal=ctx.principal)
        live = await sessions.own_sessions(s, ctx.state, ctx.principal)
        codes_left = await unused_recovery_codes(s, user.id) if user.mfa_enabled else 0
    rows = [
        {"row": r, "device": device_of(r.user_agent), "current": r.id == ctx.principal.session_id}
        for r in live
    ]
    context = {
        "user": user,
        "pending": pending,
        "qr": qr_svg(pending.otpauth_uri) if pending else None,
        "sessions": rows,
        "codes_left": codes_left,
        "form": form,
        "errors": {form: errors or {}},
        "values": {form: values or {}},
        "policy": ctx.state.settings.auth,
    }
    return render(ctx, "profile/index.html", context, status=status, headers=NO_STORE)


def _codes_page(ctx: WebCtx, codes: list[str], *, first: bool) -> Response:
    context = {"codes": codes, "first": first, "codes_text": "\n".join(codes)}
    return render(ctx, "profile/recovery_codes.html", context, headers=NO_STORE)


@router.get("/profile")
async def profile(ctx: WebCtxDep) -> Response:
    return await _page(ctx)


@router.post("/profile")
async def update_name(ctx: WebCtxDep) -> Response:
    values = await submitted(ctx.request)
    try:
        require(values, {"name": "Enter your name"})
        body = parse(ProfileUpdate, {"name": values.get("name")})
        async with ctx.write() as uow:
            await account.do_update_profile(uow.session, principal=ctx.principal, name=body.name)
    except BreezeError as exc:
        return await _page(
            ctx, form="name", errors=field_errors(exc), values=values, status=exc.status
        )
    return redirect(ctx.request, "/profile", "Your name has been saved.")


@router.post("/profile/password")
async def change_password(ctx: WebCtxDep) -> Response:
    values = await submitted(ctx.request)
    try:
        require(
            values,
            {
                "current_password": "Enter your current password",
                "new_password": "Choose a new password",
                "new_password_confirm": "Type the new password again",
            },
        )
        confirmed(values, "new_password", "new_password_confirm")
        body = parse(
            ChangePasswordRequest,
            {
                "current_password": values["current_password"],
                "new_password": values["new_password"],
            },
        )
        async with actions.attempt(ctx.state) as uow:
            await account.do_change_password(
                uow,
                ctx.state,
                principal=ctx.principal,
                current_password=body.current_password,
                new_password=body.new_password,
            )
    except BreezeError as exc:
        return await _page(ctx, form="password", errors=field_errors(exc), status=exc.status)
    return redirect(
        ctx.request,
        "/profile",
        "Your password has been changed. Your other sessions have been signed out.",
    )


# Two-factor authentication ---------------------------------------------------------


def _code(values: dict[str, Any], message: str) -> MfaCodeRequest:
    require(values, {"code": message})
    try:
        return parse(MfaCodeRequest, {"code": values["code"]})
    except InvalidInput:
        raise InvalidInput(message, field="code") from None


@router.post("/profile/mfa/setup")
async def mfa_setup(ctx: WebCtxDep) -> Response:
    async with ctx.write() as uow:
        await account.do_mfa_setup(uow.session, ctx.state, principal=ctx.principal)
    return redirect(ctx.request, "/profile#mfa")  # the page shows the QR code and the steps


@router.post("/profile/mfa/enable")
async def mfa_enable(ctx: WebCtxDep) -> Response:
    values = await submitted(ctx.request)
    try:
        body = _code(values, CODE_HELP)
        async with ctx.write() as uow:
            codes = await account.do_mfa_enable(
                uow.session, ctx.state, principal=ctx.principal, code=body.code
            )
    except BreezeError as exc:
        return await _page(ctx, form="mfa_enable", errors=field_errors(exc), status=exc.status)
    return _codes_page(ctx, codes, first=True)


@router.post("/profile/mfa/recovery-codes")
async def mfa_recovery_codes(ctx: WebCtxDep) -> Response:
    values = await submitted(ctx.request)
    try:
        body = _code(values, CODE_OR_RECOVERY)
        async with actions.attempt(ctx.state) as uow:
            codes = await account.do_regenerate_recovery_codes(
                uow.session, ctx.state, principal=ctx.principal, code=body.code
            )
    except BreezeError as exc:
        return await _page(ctx, form="mfa_codes", errors=field_errors(exc), status=exc.status)
    return _codes_page(ctx, codes, first=False)


@router.post("/profile/mfa/disable")
async def mfa_disable(ctx: WebCtxDep) -> Response:
    values = await submitted(ctx.request)
    try:
        require(values, {"password": "Enter your password", "code": CODE_OR_RECOVERY})
        try:
            body = parse(
                MfaDisableRequest, {"password": values["password"], "code": values["code"]}
            )
        except InvalidInput:
            raise InvalidInput(CODE_OR_RECOVERY, field="code") from None
        async with actions.attempt(ctx.state) as uow:
            await account.do_mfa_disable(
                uow.session,
                ctx.state,
                principal=ctx.principal,
                password=body.password,
                code=body.code,
            )
    except BreezeError as exc:
        return await _page(ctx, form="mfa_disable", errors=field_errors(exc), status=exc.status)
    return redirect(ctx.request, "/profile#mfa", "Two-factor authentication is now off.", "warning")


# Sessions ------------------------------------------------------------------------------


@router.post("/profile/sessions/{session_id}/revoke")
async def revoke_session(ctx: WebCtxDep, session_id: uuid.UUID) -> Response:
    async with ctx.write() as uow:
        await sessions.do_revoke_session(
            uow.session, principal=ctx.principal, session_id=session_id
        )
    if session_id == ctx.principal.session_id:
        response = redirect(ctx.request, "/login", "You have signed out.", "info")
        clear_session_cookies(response)
        return response
    return redirect(ctx.request, "/profile#sessions", "The session has been signed out.")


@router.post("/profile/sessions/revoke-others")
async def revoke_other_sessions(ctx: WebCtxDep) -> Response:
    async with ctx.write() as uow:
        ended = await sessions.do_revoke_other_sessions(uow.session, principal=ctx.principal)
    message = (
        f"Signed out {ended} other session{'s' if ended != 1 else ''}."
        if ended
        else "There were no other sessions to sign out."
    )
    return redirect(ctx.request, "/profile#sessions", message)
