"""Console pieces every page shares: the scope switcher and the command palette."""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Query
from starlette.responses import HTMLResponse, Response

from breeze.core.pagination import ListParams
from breeze.devices.queries import list_devices
from breeze.groups.queries import list_groups
from breeze.scripts.queries import list_scripts
from breeze.tenancy.queries import scope_orgs, scope_partners, scope_sites
from breeze.web.context import WebCtxDep, redirect, safe_next
from breeze.web.nav import NAV
from breeze.web.templating import render

router = APIRouter(include_in_schema=False)

_ID_SEGMENT = re.compile(r"/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(/.*)?$")
PALETTE_LIMIT = 6


def _section_of(path: str) -> str:
    """A detail page belongs to one tenant; switching scope goes to its list instead."""
    return _ID_SEGMENT.sub("", path) or "/"


@router.get("/scope/menu", response_class=HTMLResponse)
async def scope_menu(ctx: WebCtxDep, q: str = Query("", max_length=100)) -> HTMLResponse:
    async with ctx.read() as s:
        partners = await scope_partners(s, ctx.principal, q.strip())
        orgs = await scope_orgs(s, ctx.principal, ctx.scope.partner_id, q.strip())
        sites = await scope_sites(s, ctx.principal, ctx.scope.org_id) if ctx.scope.org_id else []
    current = urlsplit(ctx.request.headers.get("HX-Current-URL", "/")).path or "/"
    return render(
        ctx,
        "web/_scope_menu.html",
        {"partners": partners, "orgs": orgs, "sites": sites, "q": q, "back": current},
    )


@router.get("/scope/switch")
async def scope_switch(
    ctx: WebCtxDep,
    to: str = Query("", description="partner:<id>, org:<id>, site:<id> or all"),
    back: str = Query("/"),
) -> Response:
    """Go to the same section of the console in another scope (checked like any URL)."""
    kind, _, raw = to.partition(":")
    path = _section_of(safe_next(back).split("?", 1)[0])
    if kind == "all" or not raw:
        return redirect(ctx.request, path)
    if kind not in {"partner", "org", "site"}:
        return redirect(ctx.request, path)
    try:
        target = uuid.UUID(raw)
    except ValueError:
        return redirect(ctx.request, path)
    return redirect(ctx.request, f"{path}?{kind}={target}")


def _params(q: str, filters: dict[str, list[Any]]) -> ListParams:
    return ListParams(page=1, per_page=PALETTE_LIMIT, sort=None, q=q or None, filters=filters)


@router.get("/palette", response_class=HTMLResponse)
async def palette(ctx: WebCtxDep, q: str = Query("", max_length=200)) -> HTMLResponse:
    """Pages, devices, scripts and groups matching what was typed in the palette."""
    text = q.strip()
    needle = text.lower()
    pages = [
        item
        for item in NAV
        if (item.permission is None or ctx.can(item.permission))
        and (not needle or needle in f"{item.label} {item.keywords}".lower())
    ]
    scoped: dict[str, list[Any]] = {}
    if ctx.scope.org_id:
        scoped["org_id"] = [ctx.scope.org_id]
    devices: list[Any] = []
    scripts: list[Any] = []
    groups: list[Any] = []
    if text:
        async with ctx.read() as s:
            if ctx.can("devices:read"):
                device_filters = dict(scoped)
                if ctx.scope.site_id:
                    device_filters["site_id"] = [ctx.scope.site_id]
                elif ctx.scope.partner_id and not ctx.scope.org_id:
                    device_filters["partner_id"] = [ctx.scope.partner_id]
                devices, _ = await list_devices(s, ctx.principal, _params(text, device_filters))
                groups, _ = await list_groups(s, ctx.principal, _params(text, scoped))
            if ctx.can("scripts:read"):
                scripts, _ = await list_scripts(s, ctx.principal, _params(text, scoped))
    return render(
        ctx,
        "web/_palette_results.html",
        {
            "q": text,
            "page_entries": [(i.label, ctx.url(i.path), "") for i in pages[:8]],
            "device_entries": [
                (d.display_name or d.hostname, f"/devices/{d.id}", f"{d.hostname} · {d.status}")
                for d in devices
            ],
            "script_entries": [(sc.name, f"/scripts/{sc.id}", sc.language) for sc in scripts],
            "group_entries": [(g.name, f"/groups/{g.id}", g.type) for g in groups],
            "action_entries": [(label, url, "") for label, url in _actions(ctx, needle)],
        },
    )


def _actions(ctx: WebCtxDep, needle: str) -> list[tuple[str, str]]:
    """Things to do, offered only to users who may do them."""
    offered = [
        ("Run a script", "/scripts", "scripts:execute"),
        ("Add a device (install the agent)", "/settings/enrollment-keys", "enrollment_keys:write"),
        ("Invite a user", "/settings/users", "users:write"),
        ("New script", "/scripts/new", "scripts:write"),
        ("New device group", "/groups/new", "devices:write"),
        ("Create an API key", "/settings/api-keys", "api_keys:write"),
        ("Set up two-factor authentication", "/profile", ""),
    ]
    return [
        (label, ctx.url(path))
        for label, path, permission in offered
        if (not permission or ctx.can(permission)) and (not needle or needle in label.lower())
    ]
