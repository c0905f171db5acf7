"""The device list page (`/devices`): search, filters, sort and pages in the URL, the
table swapped by htmx, live statuses, bulk actions, saved views and the CSV export.

Thin: the list runs the devices domain's own query (the JSON list's filters and
validation), bulk actions go through `bulk.do_bulk` (the action behind
`POST /api/v1/devices/bulk`), saved views through the savedviews domain's actions.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import HTMLResponse, Response

from breeze.core.errors import BreezeError, Forbidden, InvalidInput
from breeze.core.pagination import MAX_PER_PAGE, ListParams
from breeze.devices import bulk, console_queries, queries
from breeze.devices.filters import filters_of, params_from_filters
from breeze.devices.schemas import BulkRequest, BulkResult
from breeze.groups.queries import list_groups
from breeze.savedviews import actions as view_actions
from breeze.savedviews import queries as view_queries
from breeze.savedviews.models import SavedView
from breeze.savedviews.schemas import SavedViewCreate
from breeze.tenancy.queries import scope_sites
from breeze.web.context import WebCtx, WebCtxDep
from breeze.web.forms import form_values, parse
from breeze.web.templating import is_htmx, render

router = APIRouter(include_in_schema=False)

TABLE_ID = "device-table"
PER_PAGE = (25, 50, 100, 200)
STATUSES = (
    ("online", "Online"),
    ("offline", "Offline"),
    ("maintenance", "Maintenance"),
    ("decommissioned", "Decommissioned"),
)
OS_TYPES = (("windows", "Windows"), ("linux", "Linux"), ("macos", "macOS"))
SORTS = {
    "hostname": "Name",
    "status": "Status",
    "os_type": "OS",
    "agent_version": "Agent",
    "last_seen_at": "Last seen",
    "site": "Site",
}
# What each bulk action needs, somewhere in the scope (each device is checked again).
BULK_NEEDS = {
    "tag": ("devices:write",),
    "untag": ("devices:write",),
    "move_site": ("devices:write",),
    "decommission": ("devices:delete",),
    "run_script": ("scripts:execute", "devices:execute"),
}
LIVE_POLL_SECONDS = 20
# Filters the form has no control for (from a shared link or a saved view): kept hidden.
EXTRA_FILTERS = ("partner_id", "org_id", "last_seen_after", "last_seen_before")
PLACE_FILTERS = (("partner_id", "partner"), ("org_id", "organization"), ("site_id", "site"))


@dataclass
class ListState:
    """The list's state as the URL carries it (filter texts, sort, page)."""

    filters: dict[str, str] = field(default_factory=dict)
    sort: str | None = None
    page: int = 1
    per_page: int = 50

    def query(self, **changes: Any) -> dict[str, Any]:
        values: dict[str, Any] = {**self.filters, "sort": self.sort}
        if self.per_page != 50:
            values["per_page"] = self.per_page
        if self.page != 1:
            values["page"] = self.page
        values.update(changes)
        return values

    def url(self, ctx: WebCtx, path: str = "/devices", **changes: Any) -> str:
        return ctx.url(path, **self.query(**changes))


def _int(raw: str | None, name: str, default: int, high: int) -> int:
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"'{raw[:20]}' is not a number", field=name) from None
    if not 1 <= value <= high:
        raise InvalidInput(f"give a number from 1 to {high}", field=name)
    return value


def read_state(ctx: WebCtx) -> ListState:
    q = ctx.request.query_params
    names = ("q", *queries.DEVICE_LIST.filters)
    filters = {n: q[n].strip() for n in names if q.get(n, "").strip()}
    return ListState(
        filters=filters,
        sort=q.get("sort", "").strip() or None,
        page=_int(q.get("page"), "page", 1, 1_000_000),
        per_page=_int(q.get("per_page"), "per_page", 50, MAX_PER_PAGE),
    )


def list_params(ctx: WebCtx, state: ListState) -> ListParams:
    """The JSON list's parameters (same validation), limited to the console's scope."""
    params = params_from_filters(
        queries.DEVICE_LIST, dict(state.filters), field="filter", per_page=state.per_page
    )
    params.page, params.sort = state.page, state.sort
    scope = ctx.scope
    for (name, label), value in zip(
        PLACE_FILTERS, (scope.partner_id, scope.org_id, scope.site_id), strict=True
    ):
        if value is None:
            continue
        given = params.filters.get(name)
        if given and value not in given:
            raise InvalidInput(
                f"The {label} filter is outside the current scope ({scope.label}); "
                "clear it or switch scope",
                field=name,
            )
        params.filters[name] = [value]
    return params


def export_url(params: ListParams) -> str:
    values = {k: ",".join(v) if isinstance(v, list) else v for k, v in filters_of(params).items()}
    if params.sort:
        values["sort"] = params.sort
    return "/api/v1/devices/export" + (f"?{urlencode(values)}" if values else "")


async def _saved_views(s: AsyncSession, ctx: WebCtx) -> list[SavedView]:
    params = ListParams(
        page=1, per_page=100, sort="name", q=None, filters={"resource": ["devices"]}
    )
    views, _ = await view_queries.list_views(s, ctx.principal, params)
    return views


async def _options(ctx: WebCtx) -> dict[str, Any]:
    """Choices of the filter and bulk controls, from what the user may see in the scope."""
    org_id = ctx.scope.org_id
    org_filter: dict[str, list[Any]] = {"org_id": [org_id]} if org_id else {}
    groups_params = ListParams(page=1, per_page=200, sort="name", q=None, filters=org_filter)
    async with ctx.read() as s:
        sites = await scope_sites(s, ctx.principal, org_id) if org_id else []
        groups, _ = await list_groups(s, ctx.principal, groups_params)
        tags = await queries.tag_counts(s, ctx.principal, [org_id] if org_id else [])
        views = await _saved_views(s, ctx)
    return {
        "sites": [(str(x.id), x.name) for x in sites],
        "groups": [(str(g.id), g.name) for g in groups],
        "tags": [(t, f"{t} ({n})") for t, n in tags[:200]],
        "views": views,
    }


def _can_bulk(ctx: WebCtx) -> dict[str, bool]:
    allowed = {action: all(ctx.can(p) for p in needs) for action, needs in BULK_NEEDS.items()}
    return {**allowed, "any": any(allowed.values())}


async def _table(ctx: WebCtx, state: ListState) -> dict[str, Any]:
    """The table's values, or an `error` in words (bad filter, sort or scope)."""
    values: dict[str, Any] = {
        "state": state,
        "rows": [],
        "total": 0,
        "pages": 0,
        "error": None,
        "status": 200,
    }
    try:
        params = list_params(ctx, state)
        async with ctx.read() as s:
            rows, total = await console_queries.list_devices_with_sites(s, ctx.principal, params)
    except BreezeError as exc:
        values.update(error=exc.detail, status=exc.status)
        return values
    values.update(
        rows=rows,
        total=total,
        pages=(total + state.per_page - 1) // state.per_page,
        export_url=export_url(params),
    )
    return values


def _common(ctx: WebCtx) -> dict[str, Any]:
    return {
        "table_id": TABLE_ID,
        "sorts": SORTS,
        "statuses": STATUSES,
        "os_types": OS_TYPES,
        "per_page_choices": PER_PAGE,
        "can": _can_bulk(ctx),
        "live_poll": LIVE_POLL_SECONDS,
        "view_filters": view_filters,
        "extra_filters": EXTRA_FILTERS,
        "view_errors": {},
    }


def _wants_table(ctx: WebCtx) -> bool:
    headers = ctx.request.headers
    return (
        is_htmx(ctx.request)
        and headers.get("HX-Target") == TABLE_ID
        and headers.get("HX-History-Restore-Request") != "true"
    )


@router.get("/devices", response_class=HTMLResponse)
async def device_list(ctx: WebCtxDep) -> HTMLResponse:
    """The list page; an htmx request aimed at the table gets just the table."""
    try:
        state = read_state(ctx)
    except BreezeError as exc:
        state = ListState()
        values = {**_common(ctx), "state": state, "rows": [], "total": 0, "pages": 0}
        values.update(error=exc.detail, status=exc.status)
    else:
        values = {**_common(ctx), **await _table(ctx, state)}
    if _wants_table(ctx):
        # The address bar shows the canonical URL (no empty fields), scope kept.
        headers = {"HX-Push-Url": state.url(ctx)} if values["error"] is None else None
        return render(
            ctx, "devices/_list_table.html", values, status=values["status"], headers=headers
        )
    values.update(await _options(ctx))
    return render(ctx, "devices/list.html", values, status=values["status"])


@router.get("/devices/live", response_class=HTMLResponse)
async def device_live(ctx: WebCtxDep, ids: str = Query("", max_length=200 * 37)) -> HTMLResponse:
    """Fresh status, last seen and pending reboot of the rows on screen, as out-of-band
    swaps (the table, its selection and focus stay as they are)."""
    wanted: list[uuid.UUID] = []
    for part in ids.split(","):
        try:
            wanted.append(uuid.UUID(part.strip()))
        except ValueError:
            continue
    async with ctx.read() as s:
        states = await console_queries.device_states(s, ctx.principal, wanted[:MAX_PER_PAGE])
    return render(ctx, "devices/_list_live.html", {"states": states})


def _bulk_request(values: dict[str, Any], ids: list[str]) -> BulkRequest:
    action = values.get("action") or ""
    if action not in BULK_NEEDS:
        raise InvalidInput("Choose what to do with the selected devices", field="action")
    if not ids:
        raise InvalidInput("Select at least one device first", field="device_ids")
    data: dict[str, Any] = {"action": action, "target": {"device_ids": ids}}
    if action in ("tag", "untag"):
        tags = [t.strip() for t in (values.get("tags") or "").split(",") if t.strip()]
        if not tags:
            raise InvalidInput("Type the tag (or several, separated by commas)", field="tags")
        data["tags"] = tags
    if action == "move_site":
        if not values.get("site_id"):
            raise InvalidInput("Choose the site to move the devices to", field="site_id")
        data["site_id"] = values["site_id"]
    if action == "decommission":
        data["confirm"] = values.get("confirm") == "true"
    return parse(BulkRequest, data)


@router.post("/devices/bulk", response_class=HTMLResponse)
async def device_bulk(ctx: WebCtxDep) -> Response:
    """Tag, untag, move or decommission the selected devices (one audited bulk action);
    "run script" goes on to the run dialog with the selection."""
    form = await ctx.request.form()
    values = form_values(form, lists=("device_ids",))
    action = values.get("action") or ""
    if action in BULK_NEEDS and not all(ctx.can(p) for p in BULK_NEEDS[action]):
        raise Forbidden("Your role does not allow this action on devices here")
    ids: list[str] = values["device_ids"]
    try:
        req = _bulk_request(values, ids)
        if req.action == "run_script":
            target = ctx.url("/scripts/run", device_ids=",".join(ids))
            return Response(status_code=204, headers={"HX-Redirect": target})
        async with ctx.write() as uow:
            result = await bulk.do_bulk(uow, actor=ctx.principal, state=ctx.state, req=req)
    except BreezeError as exc:
        return render(
            ctx, "devices/_list_bulk_result.html", {"error": exc.detail}, status=exc.status
        )
    async with ctx.read() as s:
        names = await console_queries.device_labels(
            s, ctx.principal, [r.device_id for r in result.results]
        )
    return render(
        ctx,
        "devices/_list_bulk_result.html",
        {"error": None, "result": result, "names": names, "req": req, "verb": _verb(result)},
        headers={"HX-Trigger": "devices-changed"},
    )


def _verb(result: BulkResult) -> str:
    return {
        "tag": "Tagged",
        "untag": "Removed the tag from",
        "move_site": "Moved",
        "decommission": "Decommissioned",
    }.get(result.action, "Changed")


def view_filters(view: SavedView) -> dict[str, str]:
    """A saved view's filters as the list's URL parameters."""
    out: dict[str, str] = {}
    # One order whatever the database kept (PostgreSQL's jsonb reorders keys).
    order = {k: i for i, k in enumerate(("q", *queries.DEVICE_LIST.filters, "sort"))}
    for key, value in sorted(view.filters.items(), key=lambda kv: order.get(kv[0], 99)):
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, list):
            out[key] = ",".join(str(v) for v in value)
        elif value is not None:
            out[key] = str(value)
    return out


async def _views_panel(
    ctx: WebCtx, errors: dict[str, str] | None = None, status: int = 200
) -> HTMLResponse:
    async with ctx.read() as s:
        views = await _saved_views(s, ctx)
    return render(
        ctx,
        "devices/_list_views.html",
        {**_common(ctx), "views": views, "view_errors": errors or {}},
        status=status,
    )


def _posted_state(values: dict[str, Any]) -> ListState:
    names = ("q", *queries.DEVICE_LIST.filters)
    filters = {n: str(values[n]).strip() for n in names if values.get(n)}
    return ListState(filters=filters, sort=values.get("sort") or None)


@router.post("/devices/views", response_class=HTMLResponse)
async def save_view(ctx: WebCtxDep) -> HTMLResponse:
    """Save the list's current filters and sort under a name (private to the user)."""
    values = form_values(await ctx.request.form())
    state = _posted_state(values)
    filters: dict[str, Any] = dict(state.filters)
    if state.sort:
        filters["sort"] = state.sort
    try:
        data = parse(SavedViewCreate, {"name": values.get("name") or "", "filters": filters})
        async with ctx.write() as uow:
            await view_actions.do_create_view(uow.session, actor=ctx.principal, data=data)
    except BreezeError as exc:
        message = exc.detail.removeprefix("name: ")
        return await _views_panel(ctx, {"name": message}, exc.status)
    return await _views_panel(ctx)


@router.post("/devices/views/{view_id}/delete", response_class=HTMLResponse)
async def delete_view(ctx: WebCtxDep, view_id: uuid.UUID) -> HTMLResponse:
    async with ctx.write() as uow:
        await view_actions.do_delete_view(uow.session, actor=ctx.principal, view_id=view_id)
    return await _views_panel(ctx)
