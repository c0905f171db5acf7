"""The device page (thin): overview and the inventory, metrics and history tabs. Each tab
is its own URL; htmx swaps it into the page, and a direct load renders the whole page.

The command tab, the device actions and custom field editing live in
``views_device_commands`` and ``views_device_fields``; their routes are included here.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Literal, get_args

from fastapi import APIRouter, Query
from starlette.responses import HTMLResponse

from breeze.core.pagination import ListParams
from breeze.customfields.queries import definitions_for_org
from breeze.customfields.values import with_defaults
from breeze.devices import queries
from breeze.devices.views_detail_base import render_tab
from breeze.devices.views_device_commands import router as commands_router
from breeze.devices.views_device_fields import router as fields_router
from breeze.web.context import WebCtxDep
from breeze.web.templating import render

router = APIRouter(include_in_schema=False)
DEVICE = "/devices/{device_id:uuid}"
PER_PAGE = 50
ChangeCategory = Literal[
    "software", "hardware", "os", "network", "disks", "users", "remote_access", "inventory"
]
CHANGE_CATEGORIES = get_args(ChangeCategory)
METRIC_RANGES = {"1h": "the last hour", "24h": "the last 24 hours", "7d": "the last 7 days"}
METRIC_RANGES["30d"] = "the last 30 days"
MetricRange = Literal["1h", "24h", "7d", "30d"]
Page = Annotated[int, Query(ge=1, le=100_000)]
Search = Annotated[str, Query(max_length=200)]


def _pages(total: int, per_page: int) -> int:
    return max(1, -(-total // per_page))


@router.get(DEVICE, response_class=HTMLResponse)
async def overview(ctx: WebCtxDep, device_id: uuid.UUID) -> HTMLResponse:
    async with ctx.read() as s:
        detail = await queries.device_detail(s, ctx.principal, device_id)
        device = await queries.get_device(s, ctx.principal, device_id)
        net = await queries.network(s, ctx.principal, device_id)
        definitions = await definitions_for_org(s, device.org_id)
    fields = with_defaults(definitions, device.custom_fields or {})
    return await render_tab(
        ctx,
        device,
        "overview",
        "devices/tabs/overview.html",
        {"detail": detail, "net": net, "fields": fields},
    )


@router.get(DEVICE + "/status", response_class=HTMLResponse)
async def status_badge(ctx: WebCtxDep, device_id: uuid.UUID) -> HTMLResponse:
    """The live status line at the top of the page (polled)."""
    async with ctx.read() as s:
        device = await queries.get_device(s, ctx.principal, device_id)
    return render(ctx, "devices/_detail_status.html", {"device": device})


@router.get(DEVICE + "/hardware", response_class=HTMLResponse)
async def hardware(ctx: WebCtxDep, device_id: uuid.UUID) -> HTMLResponse:
    async with ctx.read() as s:
        device = await queries.get_device(s, ctx.principal, device_id)
        hw = await queries.hardware(s, ctx.principal, device_id)
        detail = await queries.device_detail(s, ctx.principal, device_id)
    return await render_tab(
        ctx, device, "hardware", "devices/tabs/hardware.html", {"hw": hw, "detail": detail}
    )


@router.get(DEVICE + "/software", response_class=HTMLResponse)
async def software(
    ctx: WebCtxDep,
    device_id: uuid.UUID,
    q: Search = "",
    page: Page = 1,
    sort: Annotated[Literal["name", "-name", "version", "publisher", "-install_date"], Query()] = (
        "name"
    ),
) -> HTMLResponse:
    text = q.strip()
    params = ListParams(page=page, per_page=PER_PAGE, sort=sort, q=text or None, filters={})
    async with ctx.read() as s:
        device = await queries.get_device(s, ctx.principal, device_id)
        rows, total = await queries.list_software(s, ctx.principal, device_id, params)
    return await render_tab(
        ctx,
        device,
        "software",
        "devices/tabs/software.html",
        {
            "rows": rows,
            "total": total,
            "page": page,
            "pages": _pages(total, PER_PAGE),
            "q": text,
            "sort": sort,
        },
    )


@router.get(DEVICE + "/network", response_class=HTMLResponse)
async def network(ctx: WebCtxDep, device_id: uuid.UUID) -> HTMLResponse:
    async with ctx.read() as s:
        device = await queries.get_device(s, ctx.principal, device_id)
        net = await queries.network(s, ctx.principal, device_id)
    return await render_tab(ctx, device, "network", "devices/tabs/network.html", {"net": net})


@router.get(DEVICE + "/disks", response_class=HTMLResponse)
async def disks(ctx: WebCtxDep, device_id: uuid.UUID) -> HTMLResponse:
    async with ctx.read() as s:
        device = await queries.get_device(s, ctx.principal, device_id)
        found = await queries.disks(s, ctx.principal, device_id)
    return await render_tab(ctx, device, "disks", "devices/tabs/disks.html", {"disks": found})


@router.get(DEVICE + "/metrics", response_class=HTMLResponse)
async def metrics(
    ctx: WebCtxDep, device_id: uuid.UUID, range: Annotated[MetricRange, Query()] = "24h"
) -> HTMLResponse:
    """The charts; the island reads the points from GET /api/v1/devices/{id}/metrics."""
    async with ctx.read() as s:
        device = await queries.get_device(s, ctx.principal, device_id)
    return await render_tab(
        ctx,
        device,
        "metrics",
        "devices/tabs/metrics.html",
        {"range": range, "ranges": METRIC_RANGES},
    )


@router.get(DEVICE + "/history", response_class=HTMLResponse)
async def history(
    ctx: WebCtxDep,
    device_id: uuid.UUID,
    page: Page = 1,
    category: Annotated[ChangeCategory | None, Query()] = None,
    q: Search = "",
) -> HTMLResponse:
    text = q.strip()
    filters: dict[str, list[object]] = {"category": [category]} if category else {}
    params = ListParams(page=page, per_page=PER_PAGE, sort=None, q=text or None, filters=filters)
    async with ctx.read() as s:
        device = await queries.get_device(s, ctx.principal, device_id)
        rows, total = await queries.list_changes(s, ctx.principal, device_id, params)
    return await render_tab(
        ctx,
        device,
        "history",
        "devices/tabs/history.html",
        {
            "rows": rows,
            "total": total,
            "page": page,
            "pages": _pages(total, PER_PAGE),
            "category": category,
            "categories": CHANGE_CATEGORIES,
            "q": text,
        },
    )


router.include_router(commands_router)
router.include_router(fields_router)
