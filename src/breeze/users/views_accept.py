"""The accept-invitation page: the emailed link lands here, the invited person picks a
password and is signed in to the console (the same action as POST
/auth/accept-invitation, with a console cookie session like the cookie sign-in)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from starlette.responses import HTMLResponse, Response

from breeze.auth.cookies import set_session_cookies
from breeze.auth.principals import request_actor
from breeze.core.errors import BreezeError
from breeze.core.security import token_hash
from breeze.users import actions, queries
from breeze.users.errors import InvitationInvalid
from breeze.users.schemas import AcceptInvitation
from breeze.web.context import AnonCtx, AnonCtxDep, redirect
from breeze.web.forms import field_errors, form_values, parse
from breeze.web.templating import render_page

router = APIRouter(include_in_schema=False)
MAX_TOKEN = 500


async def _page(
    actx: AnonCtx,
    token: str,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    preview = None
    if token and len(token) <= MAX_TOKEN:
        async with actx.state.db.read() as s:
            preview = await queries.invitation_preview(s, token_hash(token.strip()))
    if preview is None:
        return render_page(
            actx.request,
            "users/invitation_invalid.html",
            {"missing": not token},
            status=400 if token else 200,
        )
    return render_page(
        actx.request,
        "users/accept_invitation.html",
        {
            "invitation": preview,
            "token": token,
            "values": values or {"name": preview.name},
            "errors": errors or {},
            "min_length": actx.state.settings.auth.password_min_length,
        },
        status=status,
    )


@router.get("/accept-invitation", response_class=HTMLResponse)
async def accept_page(actx: AnonCtxDep, token: str = Query("", max_length=MAX_TOKEN)) -> Response:
    return await _page(actx, token)


@router.post("/accept-invitation", response_class=HTMLResponse)
async def accept_submit(actx: AnonCtxDep) -> Response:
    values = form_values(await actx.request.form())
    token = str(values.get("token") or "")
    password = str(values.get("password") or "")
    if password != str(values.get("password_confirm") or ""):
        errors = {"password_confirm": "The two passwords are not the same; type them again"}
        return await _page(actx, token, values, errors, 422)
    try:
        data = parse(
            AcceptInvitation, {"token": token, "password": password, "name": values.get("name")}
        )
        async with actx.state.db.write() as uow:
            issued = await actions.do_accept_invitation(
                uow.session,
                actx.state,
                actor=request_actor(actx.request),
                token=data.token,
                password=data.password,
                name=data.name,
                cookie=True,
            )
    except InvitationInvalid:
        return await _page(actx, token)  # now shown as used or expired
    except BreezeError as exc:
        return await _page(actx, token, values, field_errors(exc), exc.status)
    response = redirect(actx.request, "/", "Welcome to Breeze: your account is ready")
    set_session_cookies(response, issued, actx.state.settings.auth)
    return response
