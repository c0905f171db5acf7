"""Console pages of the tenant tree: partners, organizations and sites (thin: the same
queries, schemas and actions as the JSON API in tenancy/api.py)."""

from __future__ import annotations

import uuid
from typing import Any
from zoneinfo import available_timezones

from fastapi import APIRouter, Query
from starlette.responses import HTMLResponse, Response

from breeze.core.errors import BreezeError, Forbidden
from breeze.core.pagination import ListParams
from breeze.tenancy import actions, queries
from breeze.tenancy.models import Organization, Partner, Site
from breeze.tenancy.schemas import (
    OrgCreate,
    OrgUpdate,
    PartnerCreate,
    PartnerUpdate,
    SiteCreate,
    SiteUpdate,
)
from breeze.web.context import WebCtx, WebCtxDep, redirect
from breeze.web.forms import field_errors, form_values, parse
from breeze.web.templating import render

router = APIRouter(include_in_schema=False)

BASE = "/settings/tenancy"
PER_PAGE = 25
TIMEZONES = sorted(available_timezones())
PARTNER_FIELDS = (
    "name",
    "slug",
    "type",
    "plan",
    "max_organizations",
    "max_devices",
    "billing_email",
)
ORG_FIELDS = ("name", "slug", "type", "status", "max_devices", "contract_start", "contract_end")
SITE_FIELDS = (
    "name",
    "timezone",
    "address.line1",
    "address.line2",
    "address.city",
    "address.region",
    "address.postal_code",
    "address.country",
    "contact.name",
    "contact.email",
    "contact.phone",
)
# Fields a PATCH may not set to null: an empty input keeps the current value.
KEEP_WHEN_EMPTY = frozenset({"slug", "type", "plan", "status", "timezone"})


# Helpers -------------------------------------------------------------------


def _errors(exc: BreezeError, fields: tuple[str, ...]) -> dict[str, str]:
    """Per-field messages; anything not about one of `fields` goes to the form's top."""
    errors: dict[str, str] = {}
    for key, message in field_errors(exc).items():
        if key in fields:
            errors[key] = message
        else:
            label = f"{key}: " if key and key not in {"form", ""} else ""
            errors[""] = f"{errors[''] + '; ' if '' in errors else ''}{label}{message}"
    return errors


async def _submitted(ctx: WebCtx, fields: tuple[str, ...]) -> dict[str, Any]:
    values = form_values(await ctx.request.form())
    return {k: v for k, v in values.items() if k in fields}


def _nest(values: dict[str, Any]) -> dict[str, Any]:
    """{'address.city': 'Oslo'} -> {'address': {'city': 'Oslo'}} (empty parts dropped)."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        head, _, tail = key.partition(".")
        if tail:
            if value is not None:
                out.setdefault(head, {})[tail] = value
        else:
            out[key] = value
    return out


def _for_create(values: dict[str, Any]) -> dict[str, Any]:
    """Empty inputs are left out so the schema's defaults apply."""
    return {k: v for k, v in values.items() if v is not None}


def _for_update(values: dict[str, Any]) -> dict[str, Any]:
    """Empty name stays '' (the schema says it is too short); empty optional limits clear."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if value is None and key in KEEP_WHEN_EMPTY:
            continue
        out[key] = "" if value is None and key == "name" else value
    return out


def _require_reader(ctx: WebCtx) -> None:
    if not (ctx.can("orgs:read") or ctx.can("partners:read")):
        raise Forbidden("You need the orgs:read permission to see organizations")


def _page(page: int) -> ListParams:
    return ListParams(page=page, per_page=PER_PAGE, sort=None, q=None, filters={})


# The page --------------------------------------------------------------------


@router.get(BASE, response_class=HTMLResponse)
async def tenancy_page(
    ctx: WebCtxDep,
    q: str = Query("", max_length=200),
    page: int = Query(1, ge=1, le=100_000),
) -> HTMLResponse:
    """Partners (with no scope), a partner's organizations, or an organization's sites."""
    _require_reader(ctx)
    scope = ctx.scope
    data: dict[str, Any] = {"q": q, "page": page, "per_page": PER_PAGE, "base": BASE}
    params = _page(page)
    params.q = q.strip() or None
    async with ctx.read() as s:
        if scope.org_id:
            org = await queries.get_org(s, ctx.principal, scope.org_id)
            sites, total = await queries.list_sites(s, ctx.principal, params, org_id=org.id)
            data.update(level="org", org=org, sites=sites, total=total)
        else:
            if scope.partner_id:
                data["partner"] = await queries.get_partner(s, ctx.principal, scope.partner_id)
                params.filters["partner_id"] = [scope.partner_id]
                data["level"] = "partner"
            else:
                partners, _ = await queries.list_partners(s, ctx.principal, _page(1))
                data["partners"] = partners
                data["org_counts"] = await queries.live_org_counts(
                    s, ctx.principal, [p.id for p in partners]
                )
                data["level"] = "all"
            orgs, total = await queries.list_orgs(s, ctx.principal, params)
            data.update(orgs=orgs, total=total)
            data["site_counts"] = await queries.live_site_counts(
                s, ctx.principal, [o.id for o in orgs]
            )
            data["partner_names"] = await queries.partner_names(
                s, ctx.principal, {o.partner_id for o in orgs}
            )
    data["can_create_partner"] = ctx.principal.can("partners:write")
    return render(ctx, "settings/tenancy.html", data)


# Partners --------------------------------------------------------------------


def _partner_form(
    ctx: WebCtx,
    *,
    partner: Partner | None,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    return render(
        ctx,
        "settings/tenancy_partner_form.html",
        {"partner": partner, "values": values, "errors": errors or {}, "base": BASE},
        status=status,
    )


def _values_of(row: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in fields:
        head, _, tail = name.partition(".")
        value = getattr(row, head, None)
        out[name] = (value or {}).get(tail) if tail else value
    return out


@router.get(f"{BASE}/partners/new", response_class=HTMLResponse)
async def new_partner(ctx: WebCtxDep) -> HTMLResponse:
    ctx.principal.require("partners:write")
    return _partner_form(ctx, partner=None, values={"type": "msp", "plan": "free"})


@router.post(f"{BASE}/partners/new")
async def create_partner(ctx: WebCtxDep) -> Response:
    values = await _submitted(ctx, PARTNER_FIELDS)
    try:
        body = parse(PartnerCreate, _for_create(values))
        async with ctx.write() as uow:
            partner = await actions.do_create_partner(uow.session, actor=ctx.principal, data=body)
    except BreezeError as exc:
        errors = _errors(exc, PARTNER_FIELDS)
        return _partner_form(ctx, partner=None, values=values, errors=errors, status=exc.status)
    return redirect(ctx.request, f"{BASE}?partner={partner.id}", f"Partner {partner.name} created")


@router.get(f"{BASE}/partners/{{partner_id}}/edit", response_class=HTMLResponse)
async def edit_partner(ctx: WebCtxDep, partner_id: uuid.UUID) -> HTMLResponse:
    async with ctx.read() as s:
        partner = await queries.get_partner(s, ctx.principal, partner_id)
    ctx.principal.require("partners:write", partner_id=partner.id)
    return _partner_form(ctx, partner=partner, values=_values_of(partner, PARTNER_FIELDS))


@router.post(f"{BASE}/partners/{{partner_id}}/edit")
async def update_partner(ctx: WebCtxDep, partner_id: uuid.UUID) -> Response:
    values = await _submitted(ctx, PARTNER_FIELDS)
    try:
        body = parse(PartnerUpdate, _for_update(values))
        async with ctx.write() as uow:
            partner = await actions.do_update_partner(
                uow.session, actor=ctx.principal, partner_id=partner_id, data=body
            )
    except BreezeError as exc:
        if exc.status == 404:
            raise
        async with ctx.read() as s:
            current = await queries.get_partner(s, ctx.principal, partner_id)
        errors = _errors(exc, PARTNER_FIELDS)
        return _partner_form(ctx, partner=current, values=values, errors=errors, status=exc.status)
    return redirect(ctx.request, f"{BASE}?partner={partner.id}", f"Partner {partner.name} saved")


@router.post(f"{BASE}/partners/{{partner_id}}/delete")
async def delete_partner(ctx: WebCtxDep, partner_id: uuid.UUID) -> Response:
    async with ctx.write() as uow:
        partner = await queries.get_partner(uow.session, ctx.principal, partner_id)
        name = partner.name
        await actions.do_delete_partner(uow.session, actor=ctx.principal, partner_id=partner_id)
    return redirect(ctx.request, BASE, f"Partner {name} deleted")


# Organizations ---------------------------------------------------------------


async def _org_form(
    ctx: WebCtx,
    *,
    org: Organization | None,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    partners: list[tuple[str, str]] = []
    if org is None:
        async with ctx.read() as s:
            found = await queries.scope_partners(s, ctx.principal)
        partners = [
            (str(p.id), p.name) for p in found if ctx.principal.can("orgs:write", partner_id=p.id)
        ]
        if not partners:
            raise Forbidden("Creating organizations needs the orgs:write permission on a partner")
    return render(
        ctx,
        "settings/tenancy_org_form.html",
        {"org": org, "values": values, "errors": errors or {}, "partners": partners, "base": BASE},
        status=status,
    )


@router.get(f"{BASE}/orgs/new", response_class=HTMLResponse)
async def new_org(ctx: WebCtxDep) -> HTMLResponse:
    values = {"partner_id": ctx.scope.partner_id, "type": "customer", "status": "active"}
    return await _org_form(ctx, org=None, values=values)


@router.post(f"{BASE}/orgs/new")
async def create_org(ctx: WebCtxDep) -> Response:
    values = await _submitted(ctx, ("partner_id", *ORG_FIELDS))
    try:
        body = parse(OrgCreate, _for_create(values))
        async with ctx.write() as uow:
            org = await actions.do_create_org(uow.session, actor=ctx.principal, data=body)
    except BreezeError as exc:
        errors = _errors(exc, ("partner_id", *ORG_FIELDS))
        return await _org_form(ctx, org=None, values=values, errors=errors, status=exc.status)
    return redirect(ctx.request, f"{BASE}?org={org.id}", f"Organization {org.name} created")


@router.get(f"{BASE}/orgs/{{org_id}}/edit", response_class=HTMLResponse)
async def edit_org(ctx: WebCtxDep, org_id: uuid.UUID) -> HTMLResponse:
    async with ctx.read() as s:
        org = await queries.get_org(s, ctx.principal, org_id)
    ctx.principal.require("orgs:write", partner_id=org.partner_id, org_id=org.id)
    return await _org_form(ctx, org=org, values=_values_of(org, ORG_FIELDS))


@router.post(f"{BASE}/orgs/{{org_id}}/edit")
async def update_org(ctx: WebCtxDep, org_id: uuid.UUID) -> Response:
    values = await _submitted(ctx, ORG_FIELDS)
    try:
        body = parse(OrgUpdate, _for_update(values))
        async with ctx.write() as uow:
            org = await actions.do_update_org(
                uow.session, actor=ctx.principal, org_id=org_id, data=body
            )
    except BreezeError as exc:
        if exc.status == 404:
            raise
        async with ctx.read() as s:
            current = await queries.get_org(s, ctx.principal, org_id)
        errors = _errors(exc, ORG_FIELDS)
        return await _org_form(ctx, org=current, values=values, errors=errors, status=exc.status)
    return redirect(ctx.request, f"{BASE}?org={org.id}", f"Organization {org.name} saved")


@router.post(f"{BASE}/orgs/{{org_id}}/delete")
async def delete_org(ctx: WebCtxDep, org_id: uuid.UUID) -> Response:
    async with ctx.write() as uow:
        org = await queries.get_org(uow.session, ctx.principal, org_id)
        name, partner_id = org.name, org.partner_id
        await actions.do_delete_org(uow.session, actor=ctx.principal, org_id=org_id)
    back = (
        f"{BASE}?partner={partner_id}" if ctx.can("partners:read", partner_id=partner_id) else BASE
    )
    return redirect(ctx.request, back, f"Organization {name} and its sites deleted")


# Sites -----------------------------------------------------------------------


def _site_form(
    ctx: WebCtx,
    *,
    org: Organization,
    site: Site | None,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    return render(
        ctx,
        "settings/tenancy_site_form.html",
        {
            "org": org,
            "site": site,
            "values": values,
            "errors": errors or {},
            "timezones": TIMEZONES,
            "base": BASE,
        },
        status=status,
    )


@router.get(f"{BASE}/orgs/{{org_id}}/sites/new", response_class=HTMLResponse)
async def new_site(ctx: WebCtxDep, org_id: uuid.UUID) -> HTMLResponse:
    async with ctx.read() as s:
        org = await queries.get_org(s, ctx.principal, org_id)
    ctx.principal.require("sites:write", partner_id=org.partner_id, org_id=org.id)
    return _site_form(ctx, org=org, site=None, values={"timezone": "UTC"})


@router.post(f"{BASE}/orgs/{{org_id}}/sites/new")
async def create_site(ctx: WebCtxDep, org_id: uuid.UUID) -> Response:
    values = await _submitted(ctx, SITE_FIELDS)
    try:
        body = parse(SiteCreate, _nest(_for_create(values)))
        async with ctx.write() as uow:
            site = await actions.do_create_site(
                uow.session, actor=ctx.principal, org_id=org_id, data=body
            )
    except BreezeError as exc:
        if exc.status == 404:
            raise
        async with ctx.read() as s:
            org = await queries.get_org(s, ctx.principal, org_id)
        errors = _errors(exc, SITE_FIELDS)
        return _site_form(ctx, org=org, site=None, values=values, errors=errors, status=exc.status)
    return redirect(ctx.request, f"{BASE}?org={site.org_id}", f"Site {site.name} created")


@router.get(f"{BASE}/sites/{{site_id}}/edit", response_class=HTMLResponse)
async def edit_site(ctx: WebCtxDep, site_id: uuid.UUID) -> HTMLResponse:
    async with ctx.read() as s:
        site = await queries.get_site(s, ctx.principal, site_id)
        org = await queries.get_org(s, ctx.principal, site.org_id)
    ctx.principal.require(
        "sites:write", partner_id=site.partner_id, org_id=site.org_id, site_id=site.id
    )
    return _site_form(ctx, org=org, site=site, values=_values_of(site, SITE_FIELDS))


@router.post(f"{BASE}/sites/{{site_id}}/edit")
async def update_site(ctx: WebCtxDep, site_id: uuid.UUID) -> Response:
    values = await _submitted(ctx, SITE_FIELDS)
    try:
        body = parse(SiteUpdate, _nest(_for_update(values)))
        async with ctx.write() as uow:
            site = await actions.do_update_site(
                uow.session, actor=ctx.principal, site_id=site_id, data=body
            )
    except BreezeError as exc:
        if exc.status == 404:
            raise
        async with ctx.read() as s:
            current = await queries.get_site(s, ctx.principal, site_id)
            org = await queries.get_org(s, ctx.principal, current.org_id)
        errors = _errors(exc, SITE_FIELDS)
        return _site_form(
            ctx, org=org, site=current, values=values, errors=errors, status=exc.status
        )
    return redirect(ctx.request, f"{BASE}?org={site.org_id}", f"Site {site.name} saved")


@router.post(f"{BASE}/sites/{{site_id}}/delete")
async def delete_site(ctx: WebCtxDep, site_id: uuid.UUID) -> Response:
    async with ctx.write() as uow:
        site = await queries.get_site(uow.session, ctx.principal, site_id)
        name, org_id = site.name, site.org_id
        await actions.do_delete_site(uow.session, actor=ctx.principal, site_id=site_id)
    return redirect(ctx.request, f"{BASE}?org={org_id}", f"Site {name} deleted")
