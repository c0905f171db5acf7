"""Console page of one user: account status, memberships and roles, sessions (thin: the
same queries and actions as users/api.py and the sessions routes of auth/api.py)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter
from starlette.responses import HTMLResponse, Response

from breeze.auth.sessions import do_revoke_session, sessions_of_user
from breeze.core.errors import BreezeError
from breeze.users import actions, queries
from breeze.users.errors import UserNotFound
from breeze.users.schemas import MembershipSet, UserOut, UserUpdate
from breeze.users.view_forms import (
    MEMBERSHIP_LISTS,
    membership_body,
    membership_choices,
    membership_errors,
    parse_place_key,
    place_choices,
    place_key,
)
from breeze.web.context import WebCtx, WebCtxDep
from breeze.web.forms import field_errors, form_values, parse
from breeze.web.templating import render

router = APIRouter(include_in_schema=False)
ADD_FORM = "add"


def _may(ctx: WebCtx, user: UserOut, permission: str) -> bool:
    """May the signed-in user `permission` this user at one of their memberships?"""
    if ctx.principal.is_platform_admin:
        return True
    return any(
        ctx.principal.can(permission, partner_id=m.partner_id, org_id=m.org_id)
        for m in user.memberships
    )


async def _user_page(
    ctx: WebCtx,
    user_id: uuid.UUID,
    *,
    form: str = "",
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    """The user's page; `form` names the form whose `values`/`errors` are shown again."""
    p = ctx.principal
    async with ctx.read() as s:
        user = await queries.user_view(s, p, await queries.get_user(s, p, user_id))
        names = await queries.place_names(s, user.memberships)
        sessions = await sessions_of_user(s, ctx.state, p, user_id)
        invitation = (await queries.open_invitations(s, [user_id])).get(user_id)
        memberships = []
        for m in user.memberships:
            key = place_key(m.partner_id, m.org_id)
            editable = p.can("users:write", partner_id=m.partner_id, org_id=m.org_id)
            choices = await membership_choices(s, ctx, key) if editable else None
            memberships.append(
                {
                    "m": m,
                    "key": key,
                    "name": names.get(m.org_id or m.partner_id, ""),
                    "choices": choices,
                    "values": _membership_values(m, key),
                    "removable": p.can("users:delete", partner_id=m.partner_id, org_id=m.org_id),
                }
            )
        held = {row["key"] for row in memberships}
        places = [c for c in await place_choices(s, ctx, "users:write") if c.key not in held]
        add_key = (values or {}).get("place", "") if form == ADD_FORM else ""
        add_choices = await membership_choices(s, ctx, add_key)
    if form and form != ADD_FORM and values is not None:
        for row in memberships:
            if row["key"] == form:
                row["values"] = values
    return render(
        ctx,
        "settings/users_detail.html",
        {
            "user": user,
            "memberships": memberships,
            "sessions": sessions,
            "invitation": invitation,
            "places": places,
            "add_choices": add_choices,
            "add_values": values
            if form == ADD_FORM
            else {"org_access": "all", "site_access": "all"},
            "form": form,
            "account_values": values if form == "account" and values else {},
            "errors": errors or {},
            "can_write": _may(ctx, user, "users:write"),
            "can_delete": _may(ctx, user, "users:delete"),
            "is_self": user.id == p.user_id,
        },
        status=status,
    )


def _membership_values(m: Any, key: str) -> dict[str, Any]:
    return {
        "place": key,
        "role_id": str(m.role_id),
        "org_access": m.org_access or "all",
        "org_ids": [str(o) for o in m.org_ids or []],
        "site_access": "all" if m.site_ids is None else "selected",
        "site_ids": [str(x) for x in m.site_ids or []],
    }


@router.get("/settings/users/{user_id:uuid}", response_class=HTMLResponse)
async def user_page(ctx: WebCtxDep, user_id: uuid.UUID) -> HTMLResponse:
    return await _user_page(ctx, user_id)


@router.post("/settings/users/{user_id:uuid}/account", response_class=HTMLResponse)
async def update_account(ctx: WebCtxDep, user_id: uuid.UUID) -> Response:
    """Rename, disable or re-enable the account (UserUpdate, as PATCH /users/{id})."""
    values = form_values(await ctx.request.form())
    body: dict[str, Any] = {k: values[k] or "" for k in ("name", "status") if k in values}
    try:
        data = parse(UserUpdate, body)
        async with ctx.write() as uow:
            user = await actions.do_update_user(
                uow.session, actor=ctx.principal, user_id=user_id, data=data
            )
            email, status = user.email, user.status
    except BreezeError as exc:
        return await _user_page(
            ctx, user_id, form="account", values=values, errors=field_errors(exc), status=exc.status
        )
    if "status" in body:
        message = (
            f"{email} is disabled and signed out everywhere"
            if status == "disabled"
            else f"{email} can sign in again"
        )
    else:
        message = "Name saved"
    return ctx.redirect(f"/settings/users/{user_id}", message)


@router.post("/settings/users/{user_id:uuid}/membership", response_class=HTMLResponse)
async def set_membership(ctx: WebCtxDep, user_id: uuid.UUID) -> Response:
    """Add a membership or change one's role and reach (PUT /users/{id}/membership)."""
    values = form_values(await ctx.request.form(), lists=MEMBERSHIP_LISTS)
    form = str(values.pop("form", None) or ADD_FORM)
    try:
        data = parse(MembershipSet, membership_body(values))
        async with ctx.write() as uow:
            await actions.do_set_membership(
                uow.session, actor=ctx.principal, user_id=user_id, data=data
            )
    except BreezeError as exc:
        errors = membership_errors(field_errors(exc))
        return await _user_page(
            ctx, user_id, form=form, values=values, errors=errors, status=exc.status
        )
    message = "Membership added" if form == ADD_FORM else "Membership saved"
    return ctx.redirect(f"/settings/users/{user_id}", message)


@router.post("/settings/users/{user_id:uuid}/membership/remove")
async def remove_membership(ctx: WebCtxDep, user_id: uuid.UUID) -> Response:
    values = form_values(await ctx.request.form())
    partner_id, org_id = parse_place_key(values.get("place"))
    async with ctx.write() as uow:
        await actions.do_remove_membership(
            uow.session, actor=ctx.principal, user_id=user_id, partner_id=partner_id, org_id=org_id
        )
        try:
            await queries.get_user(uow.session, ctx.principal, user_id)
        except UserNotFound:  # no membership left that the signed-in user may see
            return ctx.redirect("/settings/users", "Membership removed")
    return ctx.redirect(f"/settings/users/{user_id}", "Membership removed")


@router.post("/settings/users/{user_id:uuid}/remove")
async def remove_user(ctx: WebCtxDep, user_id: uuid.UUID) -> Response:
    """Remove every membership the signed-in user may remove (DELETE /users/{id})."""
    async with ctx.write() as uow:
        email = (await queries.get_user(uow.session, ctx.principal, user_id)).email
        await actions.do_remove_user(uow.session, actor=ctx.principal, user_id=user_id)
    return ctx.redirect("/settings/users", f"{email} was removed")


@router.post("/settings/users/{user_id:uuid}/sessions/{session_id:uuid}/revoke")
async def revoke_session(ctx: WebCtxDep, user_id: uuid.UUID, session_id: uuid.UUID) -> Response:
    async with ctx.write() as uow:
        await do_revoke_session(
            uow.session, principal=ctx.principal, session_id=session_id, user_id=user_id
        )
    return ctx.redirect(f"/settings/users/{user_id}", "Session ended; that device is signed out")
