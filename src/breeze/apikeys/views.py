"""Console pages of API keys: list, create (the secret is shown once), revoke. Same queries,
schema and actions as the JSON API in apikeys/api.py."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, Query
from starlette.responses import HTMLResponse, Response

from breeze.agents.views import VALID_FOR_CHOICES, expiry_of
from breeze.apikeys import actions, queries
from breeze.apikeys.models import ApiKey
from breeze.apikeys.schemas import ApiKeyCreate, ApiKeyOut
from breeze.core.errors import BreezeError, Forbidden
from breeze.core.pagination import ListParams
from breeze.rbac.catalog import RESOURCES, describe
from breeze.tenancy import queries as tenancy
from breeze.web.context import WebCtx, WebCtxDep
from breeze.web.forms import field_errors, form_values, parse
from breeze.web.templating import render

router = APIRouter(include_in_schema=False)

BASE = "/settings/api-keys"
PER_PAGE = 25
NO_STORE = {"Cache-Control": "no-store"}
Status = Literal["active", "revoked", "all"]


def key_status(key: ApiKey, now: datetime) -> str:
    if key.revoked_at is not None:
        return "revoked"
    if key.expires_at is not None and key.expires_at <= now:
        return "expired"
    return "active"


def _scope_filters(ctx: WebCtx) -> dict[str, list[Any]]:
    if ctx.scope.org_id:
        return {"org_id": [ctx.scope.org_id]}
    if ctx.scope.partner_id:
        return {"partner_id": [ctx.scope.partner_id]}
    return {}


@router.get(BASE, response_class=HTMLResponse)
async def api_keys_page(
    ctx: WebCtxDep,
    status: Status = Query("active"),
    mine: bool = Query(False),
    q: str = Query("", max_length=200),
    page: int = Query(1, ge=1, le=100_000),
) -> HTMLResponse:
    if not ctx.can("api_keys:read"):
        raise Forbidden("You need the api_keys:read permission to see API keys")
    filters = _scope_filters(ctx)
    if mine and ctx.principal.user_id:
        filters["user_id"] = [ctx.principal.user_id]
    params = ListParams(
        page=page, per_page=PER_PAGE, sort=None, q=q.strip() or None, filters=filters
    )
    revoked = None if status == "all" else status == "revoked"
    async with ctx.read() as s:
        keys, total = await queries.list_api_keys(s, ctx.principal, params, revoked=revoked)
        orgs = await tenancy.org_names(s, ctx.principal, {k.org_id for k in keys if k.org_id})
        partners = await tenancy.partner_names(s, ctx.principal, {k.partner_id for k in keys})
    now = datetime.now(UTC)
    return render(
        ctx,
        "settings/apikeys.html",
        {
            "keys": keys,
            "total": total,
            "page": page,
            "per_page": PER_PAGE,
            "q": q,
            "mine": mine,
            "status": status,
            "org_names": orgs,
            "partner_names": partners,
            "statuses": {k.id: key_status(k, now) for k in keys},
            "base": BASE,
        },
    )


async def _places(ctx: WebCtx) -> tuple[list[tuple[str, str]], set[str]]:
    """Where the user may create a key, partners ('partner:<id>') and organizations
    ('org:<id>') in the current scope, and the permissions held at any of them (a key
    cannot have more than its creator holds at its place)."""
    async with ctx.read() as s:
        partners = [] if ctx.scope.org_id else await tenancy.scope_partners(s, ctx.principal)
        orgs = await tenancy.scope_orgs(s, ctx.principal, ctx.scope.partner_id)
    if ctx.scope.partner_id:
        partners = [p for p in partners if p.id == ctx.scope.partner_id]
    if ctx.scope.org_id:
        orgs = [o for o in orgs if o.id == ctx.scope.org_id]
    places: list[tuple[str, str]] = []
    held: set[str] = set()
    p = ctx.principal
    for partner in partners:
        if p.can("api_keys:write", partner_id=partner.id):
            places.append((f"partner:{partner.id}", f"{partner.name} (whole partner)"))
            held |= p.permissions_at(partner_id=partner.id)
    for org in orgs:
        if p.can("api_keys:write", partner_id=org.partner_id, org_id=org.id):
            places.append((f"org:{org.id}", org.name))
            held |= p.permissions_at(partner_id=org.partner_id, org_id=org.id)
    return places, held


def _permission_groups(held: set[str]) -> list[tuple[str, list[tuple[str, str]]]]:
    groups = []
    for resource, acts in RESOURCES.items():
        offered = [(f"{resource}:{a}", describe(f"{resource}:{a}")) for a in acts]
        offered = [(name, label) for name, label in offered if name in held]
        if offered:
            groups.append((resource.replace("_", " ").capitalize(), offered))
    return groups


async def _form(
    ctx: WebCtx,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    places, held = await _places(ctx)
    if ctx.principal.api_key_id is not None or not places:
        raise Forbidden("You need the api_keys:write permission in a partner or organization")
    return render(
        ctx,
        "settings/apikey_form.html",
        {
            "values": values,
            "errors": errors or {},
            "places": places,
            "groups": _permission_groups(held),
            "valid_for": VALID_FOR_CHOICES,
            "base": BASE,
        },
        status=status,
    )


@router.get(f"{BASE}/new", response_class=HTMLResponse)
async def new_api_key(ctx: WebCtxDep) -> HTMLResponse:
    place = f"org:{ctx.scope.org_id}" if ctx.scope.org_id else None
    return await _form(ctx, {"place": place, "valid_for": "90d", "permissions": []})


def _place_ids(place: str | None) -> dict[str, Any]:
    kind, _, raw = (place or "").partition(":")
    if kind in {"partner", "org"} and raw:
        return {f"{kind}_id": raw}
    return {}


@router.post(f"{BASE}/new")
async def create_api_key(ctx: WebCtxDep) -> Response:
    form = await ctx.request.form()
    values = form_values(form, lists=("permissions",))
    data: dict[str, Any] = {
        "name": values.get("name"),
        "permissions": values.get("permissions", []),
        "expires_at": expiry_of(values),
        **_place_ids(values.get("place")),
    }
    try:
        body = parse(ApiKeyCreate, {k: v for k, v in data.items() if v is not None})
        async with ctx.write() as uow:
            key, raw = await actions.do_create_api_key(uow.session, actor=ctx.principal, data=body)
    except BreezeError as exc:
        if exc.status == 404:
            raise  # a place the user cannot see: only a forged form names one
        errors = field_errors(exc)
        for field in ("partner_id", "org_id"):
            if field in errors:
                errors["place"] = errors.pop(field)
        if not values.get("expires_at") and "expires_at" in errors:
            errors["valid_for"] = errors.pop("expires_at")
        for key_name in [k for k in errors if k.startswith("permissions.")]:
            errors.setdefault("permissions", errors.pop(key_name))
        return await _form(ctx, values, errors, exc.status)
    return render(
        ctx,
        "settings/apikey_created.html",
        {"key": ApiKeyOut.model_validate(key), "secret": raw, "base": BASE},
        status=201,
        headers=NO_STORE,
    )


@router.post(f"{BASE}/{{key_id}}/revoke")
async def revoke_api_key(ctx: WebCtxDep, key_id: uuid.UUID) -> Response:
    async with ctx.write() as uow:
        key = await queries.get_api_key(uow.session, ctx.principal, key_id)
        name = key.name
        await actions.do_revoke_api_key(uow.session, actor=ctx.principal, key_id=key_id)
    return ctx.redirect(BASE, f"API key {name} revoked; requests with it are refused from now on")
