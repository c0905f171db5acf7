"""Console pages of users: the list in the current scope, pending invitations, inviting
someone (thin: the same queries and actions as users/api.py)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Query
from starlette.responses import HTMLResponse, Response

from breeze.core.errors import BreezeError, Forbidden
from breeze.core.pagination import ListParams
from breeze.db.base import utcnow
from breeze.users import actions, queries, views_accept, views_user
from breeze.users.schemas import UserInvite
from breeze.users.view_forms import (
    MEMBERSHIP_LISTS,
    membership_body,
    membership_choices,
    membership_errors,
    place_choices,
)
from breeze.web.context import WebCtx, WebCtxDep
from breeze.web.forms import field_errors, form_values, parse
from breeze.web.templating import render

router = APIRouter(include_in_schema=False)

PER_PAGE = 25
PENDING_SHOWN = 10
STATUSES = ("active", "invited", "disabled")
SORTS = ("email", "-email", "name", "-name", "last_login_at", "-last_login_at", "status")


def scope_filter(ctx: WebCtx) -> dict[str, uuid.UUID | None]:
    """Members of the scope's organization, or of its partner (org members included)."""
    if ctx.scope.org_id is not None:
        return {"partner_id": None, "org_id": ctx.scope.org_id}
    return {"partner_id": ctx.scope.partner_id, "org_id": None}


@router.get("/settings/users", response_class=HTMLResponse)
async def users_page(
    ctx: WebCtxDep,
    q: str = Query("", max_length=200),
    status: str = Query("", max_length=20),
    sort: str = Query("email", max_length=30),
    page: int = Query(1, ge=1, le=100_000),
) -> HTMLResponse:
    if not ctx.can("users:read"):
        raise _forbidden("users:read")
    status = status if status in STATUSES else ""
    sort = sort if sort in SORTS else "email"
    filters: dict[str, list[Any]] = {"status": [status]} if status else {}
    params = ListParams(
        page=page, per_page=PER_PAGE, sort=sort, q=q.strip() or None, filters=filters
    )
    pending_params = ListParams(
        page=1, per_page=PENDING_SHOWN, sort="-created_at", q=None, filters={"status": ["invited"]}
    )
    where = scope_filter(ctx)
    async with ctx.read() as s:
        rows, total = await queries.list_users(s, ctx.principal, params, **where)
        users = await queries.user_views(s, ctx.principal, rows)
        pending_rows, pending_total = await queries.list_users(
            s, ctx.principal, pending_params, **where
        )
        pending = await queries.user_views(s, ctx.principal, pending_rows)
        invitations = await queries.open_invitations(s, [u.id for u in pending])
        names = await queries.place_names(s, [m for u in [*users, *pending] for m in u.memberships])
    pages = max(1, -(-total // PER_PAGE))
    return render(
        ctx,
        "settings/users.html",
        {
            "users": users,
            "total": total,
            "page": page,
            "pages": pages,
            "q": q,
            "status": status,
            "sort": sort,
            "pending": pending,
            "pending_total": pending_total,
            "invitations": invitations,
            "expired": {uid for uid, inv in invitations.items() if inv.expires_at <= utcnow()},
            "names": names,
            "can_invite": ctx.can("users:write"),
        },
    )


def _forbidden(permission: str) -> BreezeError:
    return Forbidden(f"You do not have the '{permission}' permission in this scope")


async def _invite_form(
    ctx: WebCtx,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    async with ctx.read() as s:
        places = await place_choices(s, ctx, "users:write")
        key = values.get("place") or (places[0].key if len(places) == 1 else "")
        values["place"] = key
        choices = await membership_choices(s, ctx, key)
    return render(
        ctx,
        "settings/users_invite.html",
        {"places": places, "choices": choices, "values": values, "errors": errors or {}},
        status=status,
    )


@router.get("/settings/users/invite", response_class=HTMLResponse)
async def invite_page(ctx: WebCtxDep, place: str = Query("", max_length=100)) -> HTMLResponse:
    if not ctx.can("users:write"):
        raise _forbidden("users:write")
    return await _invite_form(ctx, {"place": place, "org_access": "all", "site_access": "all"})


@router.get("/settings/users/membership-fields", response_class=HTMLResponse)
async def membership_fields(ctx: WebCtxDep, place: str = Query("", max_length=100)) -> HTMLResponse:
    """The role and access fields for the place chosen in a membership form (htmx)."""
    async with ctx.read() as s:
        choices = await membership_choices(s, ctx, place)
    values = {"place": place, "org_access": "all", "site_access": "all"}
    return render(
        ctx,
        "settings/users_membership_fields.html",
        {"choices": choices, "values": values, "errors": {}},
    )


@router.post("/settings/users/invite", response_class=HTMLResponse)
async def invite_submit(ctx: WebCtxDep) -> Response:
    if not ctx.can("users:write"):
        raise _forbidden("users:write")
    values = form_values(await ctx.request.form(), lists=MEMBERSHIP_LISTS)
    try:
        body = {"email": values.get("email"), "name": values.get("name"), **membership_body(values)}
        data = parse(UserInvite, body)
        async with ctx.write() as uow:
            user = await actions.do_invite(
                uow, actor=ctx.principal, settings=ctx.settings, data=data
            )
            email, status = user.email, user.status
    except BreezeError as exc:
        errors = membership_errors(field_errors(exc))
        return await _invite_form(ctx, values, errors, exc.status)
    message = (
        f"Invitation sent to {email}"
        if status == "invited"
        else f"{email} already has an account; they were given access and told by email"
    )
    return ctx.redirect("/settings/users", message)


@router.post("/settings/users/{user_id}/resend-invitation")
async def resend_invitation(
    ctx: WebCtxDep, user_id: uuid.UUID, back: str = Query("list", pattern="^(list|user)$")
) -> Response:
    async with ctx.write() as uow:
        await actions.do_resend_invitation(
            uow, actor=ctx.principal, settings=ctx.settings, user_id=user_id
        )
        email = (await queries.get_user(uow.session, ctx.principal, user_id)).email
    path = f"/settings/users/{user_id}" if back == "user" else "/settings/users"
    return ctx.redirect(path, f"A new invitation was sent to {email}; earlier links no longer work")


# After the fixed paths above (/settings/users/invite ...), the per-user pages.
router.include_router(views_user.router)
router.include_router(views_accept.router)
