"""The dashboard (`/`): devices by status and OS, offline devices, recent changes and
activity, failing script runs; each panel is a fragment htmx polls (no page reload)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.responses import HTMLResponse

from breeze.dashboard import queries
from breeze.devices.console_queries import Place
from breeze.web.context import WebCtx, WebCtxDep
from breeze.web.templating import render

router = APIRouter(include_in_schema=False)
POLL_SECONDS = 15


def place_of(ctx: WebCtx) -> Place:
    s = ctx.scope
    return Place(partner_id=s.partner_id, org_id=s.org_id, site_id=s.site_id)


async def _devices(ctx: WebCtx) -> dict[str, Any]:
    if not ctx.can("devices:read"):
        return {"summary": None}
    async with ctx.read() as s:
        summary = await queries.device_summary(s, ctx.principal, place_of(ctx))
    return {"summary": summary}


async def _activity(ctx: WebCtx) -> dict[str, Any]:
    place = place_of(ctx)
    show_audit = ctx.can("audit:read")
    async with ctx.read() as s:
        changes = (
            await queries.recent_changes(s, ctx.principal, place) if ctx.can("devices:read") else []
        )
        activity = await queries.recent_activity(s, ctx.principal, place) if show_audit else []
    return {"changes": changes, "activity": activity, "show_audit": show_audit}


async def _scripts(ctx: WebCtx) -> dict[str, Any]:
    if not ctx.can("devices:read"):
        return {"failing": None}
    async with ctx.read() as s:
        failing = await queries.failing_runs(s, ctx.principal, place_of(ctx))
    return {"failing": failing, "can_see_scripts": ctx.can("scripts:read")}


def _common(ctx: WebCtx) -> dict[str, Any]:
    return {
        "poll": POLL_SECONDS,
        "can_enroll": ctx.can("enrollment_keys:write"),
        "can_devices": ctx.can("devices:read"),
    }


@router.get("/", response_class=HTMLResponse)
async def dashboard(ctx: WebCtxDep) -> HTMLResponse:
    values = _common(ctx)
    values.update(await _devices(ctx))
    values.update(await _activity(ctx))
    values.update(await _scripts(ctx))
    return render(ctx, "dashboard/index.html", values)


@router.get("/dashboard/devices", response_class=HTMLResponse)
async def devices_panel(ctx: WebCtxDep) -> HTMLResponse:
    values = _common(ctx)
    values.update(await _devices(ctx))
    return render(ctx, "dashboard/_devices.html", values)


@router.get("/dashboard/activity", response_class=HTMLResponse)
async def activity_panel(ctx: WebCtxDep) -> HTMLResponse:
    values = _common(ctx)
    values.update(await _activity(ctx))
    return render(ctx, "dashboard/_activity.html", values)


@router.get("/dashboard/scripts", response_class=HTMLResponse)
async def scripts_panel(ctx: WebCtxDep) -> HTMLResponse:
    values = _common(ctx)
    values.update(await _scripts(ctx))
    return render(ctx, "dashboard/_scripts.html", values)
