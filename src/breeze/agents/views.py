"""Console pages of enrollment keys: list, create (the key and the one-line install command
are shown once: the server keeps only a hash), revoke. Same queries, schema and actions
as the JSON API in agents/api.py."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from fastapi import APIRouter, Query
from starlette.responses import HTMLResponse, Response

from breeze.agents import actions, queries
from breeze.agents.models import EnrollmentKey
from breeze.agents.schemas import EnrollmentKeyCreate, EnrollmentKeyOut
from breeze.core.errors import BreezeError, Forbidden
from breeze.core.pagination import ListParams
from breeze.tenancy import queries as tenancy
from breeze.web.context import WebCtx, WebCtxDep
from breeze.web.forms import field_errors, form_values, parse
from breeze.web.templating import render

router = APIRouter(include_in_schema=False)

BASE = "/settings/enrollment-keys"
PER_PAGE = 25
KEY_FIELDS = ("name", "org_id", "site_id", "max_uses", "valid_for", "expires_at")
NO_STORE = {"Cache-Control": "no-store"}
VALID_FOR: dict[str, timedelta | None] = {
    "": None,
    "1h": timedelta(hours=1),
    "24h": timedelta(days=1),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "90d": timedelta(days=90),
    "365d": timedelta(days=365),
}
VALID_FOR_CHOICES = [
    ("", "Never expires"),
    ("1h", "1 hour"),
    ("24h", "24 hours"),
    ("7d", "7 days"),
    ("30d", "30 days"),
    ("90d", "90 days"),
    ("365d", "1 year"),
]
Status = Literal["active", "revoked", "all"]


def expiry_of(values: dict[str, Any], now: datetime | None = None) -> str | None:
    """The form's expiry as ISO 8601 with a zone: an exact UTC time (`expires_at`, from a
    datetime-local input) wins over a period (`valid_for`). The schema then checks it."""
    exact = values.get("expires_at")
    if exact:
        text = str(exact)
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return text  # the schema names what is wrong with it
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.isoformat()
    period = VALID_FOR.get(str(values.get("valid_for") or ""))
    if period is None:
        return None
    return ((now or datetime.now(UTC)) + period).isoformat()


def key_status(key: EnrollmentKey | EnrollmentKeyOut, now: datetime) -> str:
    if key.revoked_at is not None:
        return "revoked"
    if key.expires_at is not None and key.expires_at <= now:
        return "expired"
    if key.max_uses is not None and key.uses >= key.max_uses:
        return "used up"
    return "active"


def _scope_filters(ctx: WebCtx) -> dict[str, list[Any]]:
    if ctx.scope.site_id:
        return {"site_id": [ctx.scope.site_id]}
    if ctx.scope.org_id:
        return {"org_id": [ctx.scope.org_id]}
    if ctx.scope.partner_id:
        return {"partner_id": [ctx.scope.partner_id]}
    return {}


@router.get(BASE, response_class=HTMLResponse)
async def enrollment_keys_page(
    ctx: WebCtxDep,
    status: Status = Query("active"),
    q: str = Query("", max_length=200),
    page: int = Query(1, ge=1, le=100_000),
) -> HTMLResponse:
    if not ctx.can("enrollment_keys:read"):
        raise Forbidden("You need the enrollment_keys:read permission to see enrollment keys")
    params = ListParams(
        page=page, per_page=PER_PAGE, sort=None, q=q.strip() or None, filters=_scope_filters(ctx)
    )
    revoked = None if status == "all" else status == "revoked"
    async with ctx.read() as s:
        keys, total = await queries.list_enrollment_keys(s, ctx.principal, params, revoked=revoked)
        orgs = await tenancy.org_names(s, ctx.principal, {k.org_id for k in keys})
        sites = await tenancy.site_names(s, ctx.principal, {k.site_id for k in keys if k.site_id})
    now = datetime.now(UTC)
    return render(
        ctx,
        "settings/enrollment_keys.html",
        {
            "keys": keys,
            "total": total,
            "page": page,
            "per_page": PER_PAGE,
            "q": q,
            "status": status,
            "org_names": orgs,
            "site_names": sites,
            "statuses": {k.id: key_status(k, now) for k in keys},
            "command_shape": actions.install_command(ctx.settings.server.public_url, "KEY"),
            "base": BASE,
        },
    )


async def _write_orgs(ctx: WebCtx) -> list[tuple[str, str]]:
    """Organizations (in the scope) where the user may create enrollment keys."""
    async with ctx.read() as s:
        orgs = await tenancy.scope_orgs(s, ctx.principal, ctx.scope.partner_id)
    if ctx.scope.org_id:
        orgs = [o for o in orgs if o.id == ctx.scope.org_id]
    return [
        (str(o.id), o.name)
        for o in orgs
        if ctx.can("enrollment_keys:write", partner_id=o.partner_id, org_id=o.id)
        or any(
            g.org_id == o.id and "enrollment_keys:write" in g.permissions
            for g in ctx.principal.org_grants
        )
    ]


async def _sites_of(ctx: WebCtx, org_id: uuid.UUID | None) -> list[tuple[str, str]]:
    if org_id is None:
        return []
    async with ctx.read() as s:
        sites = await tenancy.scope_sites(s, ctx.principal, org_id)
    return [(str(site.id), site.name) for site in sites]


async def _form(
    ctx: WebCtx,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    orgs = await _write_orgs(ctx)
    if not orgs:
        raise Forbidden("You need the enrollment_keys:write permission in an organization")
    chosen = values.get("org_id") or orgs[0][0]
    try:
        org_id: uuid.UUID | None = uuid.UUID(str(chosen))
    except ValueError:
        org_id = None
    values = {**values, "org_id": str(chosen)}
    return render(
        ctx,
        "settings/enrollment_key_form.html",
        {
            "values": values,
            "errors": errors or {},
            "orgs": orgs,
            "sites": await _sites_of(ctx, org_id),
            "valid_for": VALID_FOR_CHOICES,
            "base": BASE,
        },
        status=status,
    )


@router.get(f"{BASE}/new", response_class=HTMLResponse)
async def new_enrollment_key(ctx: WebCtxDep) -> HTMLResponse:
    values: dict[str, Any] = {"valid_for": "7d"}
    if ctx.scope.org_id:
        values["org_id"] = str(ctx.scope.org_id)
    if ctx.scope.site_id:
        values["site_id"] = str(ctx.scope.site_id)
    return await _form(ctx, values)


@router.get(f"{BASE}/sites", response_class=HTMLResponse)
async def site_choices(ctx: WebCtxDep, org_id: uuid.UUID | None = None) -> HTMLResponse:
    """The site field for the chosen organization (htmx swaps it in)."""
    return render(
        ctx,
        "settings/enrollment_site_field.html",
        {"sites": await _sites_of(ctx, org_id), "values": {}, "errors": {}},
    )


@router.post(f"{BASE}/new")
async def create_enrollment_key(ctx: WebCtxDep) -> Response:
    values = {k: v for k, v in form_values(await ctx.request.form()).items() if k in KEY_FIELDS}
    data = {k: values.get(k) for k in ("name", "org_id", "site_id", "max_uses")}
    data["expires_at"] = expiry_of(values)
    try:
        body = parse(EnrollmentKeyCreate, {k: v for k, v in data.items() if v is not None})
        async with ctx.write() as uow:
            key, raw = await actions.do_create_enrollment_key(
                uow.session, actor=ctx.principal, data=body
            )
    except BreezeError as exc:
        if exc.status == 404:
            raise  # a place the user cannot see: only a forged form names one
        errors = field_errors(exc)
        if not values.get("expires_at") and "expires_at" in errors:
            errors["valid_for"] = errors.pop("expires_at")
        return await _form(ctx, values, errors, exc.status)
    async with ctx.read() as s:
        org = await tenancy.get_org(s, ctx.principal, key.org_id)
        site = await tenancy.get_site(s, ctx.principal, key.site_id) if key.site_id else None
    return render(
        ctx,
        "settings/enrollment_key_created.html",
        {
            "key": EnrollmentKeyOut.model_validate(key),
            "secret": raw,
            "install_command": actions.install_command(ctx.settings.server.public_url, raw),
            "org": org,
            "site": site,
            "base": BASE,
        },
        status=201,
        headers=NO_STORE,
    )


@router.post(f"{BASE}/{{key_id}}/revoke")
async def revoke_enrollment_key(ctx: WebCtxDep, key_id: uuid.UUID) -> Response:
    async with ctx.write() as uow:
        key = await queries.get_enrollment_key(uow.session, ctx.principal, key_id)
        name = key.name
        await actions.do_revoke_enrollment_key(uow.session, actor=ctx.principal, key_id=key_id)
    return ctx.redirect(BASE, f"Enrollment key {name} revoked; it enrolls no more devices")
