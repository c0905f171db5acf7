"""Console pages of device groups: the list, a group's page with its members (static
groups: add and remove), and deleting. Creating and editing: views_edit.py.

Thin: the same queries and actions as breeze.groups.api."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import HTMLResponse, Response

from breeze.core.errors import BreezeError, Conflict
from breeze.core.pagination import ListParams
from breeze.core.principal import Principal
from breeze.customfields.queries import definitions_for_org
from breeze.devices.queries import list_devices
from breeze.groups import actions, queries
from breeze.groups.api import _lazy_predefined
from breeze.groups.models import STATIC, DeviceGroup
from breeze.groups.schemas import GroupOut, MembersChange, MembersResult
from breeze.groups.views_edit import may_write_in_org
from breeze.groups.views_edit import router as edit_router
from breeze.groups.views_rules import Names, describe, group_ids_named
from breeze.rbac.queries import visible_place
from breeze.tenancy.queries import scope_orgs, scope_sites
from breeze.web.context import WebCtx, WebCtxDep
from breeze.web.forms import field_errors, form_values, parse
from breeze.web.templating import is_htmx, render

router = APIRouter(include_in_schema=False)
router.include_router(edit_router)

PER_PAGE = 50
MEMBERS_PER_PAGE = 25
CANDIDATES = 20
TYPES = ("static", "dynamic", "predefined")
SORTS = ("name", "-name", "type", "-updated_at", "updated_at", "-created_at")


async def _site_names(
    s: AsyncSession, principal: Principal, org_ids: set[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """Names of the sites (of these organizations) the principal may read."""
    names: dict[uuid.UUID, str] = {}
    for org_id in org_ids:
        names.update({site.id: site.name for site in await scope_sites(s, principal, org_id)})
    return names


def _tree(rows: list[GroupOut]) -> list[tuple[GroupOut, int]]:
    """Rows with their depth: a child right under its parent when both are on the page."""
    on_page = {g.id for g in rows}
    children: dict[uuid.UUID | None, list[GroupOut]] = {}
    for g in rows:
        children.setdefault(g.parent_id if g.parent_id in on_page else None, []).append(g)
    out: list[tuple[GroupOut, int]] = []

    def walk(parent: uuid.UUID | None, depth: int) -> None:
        for g in children.get(parent, []):
            out.append((g, depth))
            walk(g.id, depth + 1)

    walk(None, 0)
    return out


@router.get("/groups", response_class=HTMLResponse)
async def groups_page(
    ctx: WebCtxDep,
    q: str = Query("", max_length=200),
    type: str = Query("", max_length=20),
    sort: str = Query("name", max_length=40),
    page: int = Query(1, ge=1, le=100_000),
) -> HTMLResponse:
    """Groups in the scope with their type, members, site and nesting."""
    filters: dict[str, list[Any]] = {}
    if ctx.scope.org_id:
        filters["org_id"] = [ctx.scope.org_id]
    if type in ("static", "dynamic"):
        filters["type"] = [type]
    params = ListParams(
        page=page,
        per_page=PER_PAGE,
        sort=sort if sort in SORTS else "name",
        q=q.strip() or None,
        filters=filters,
    )
    await _lazy_predefined(ctx, params)
    async with ctx.read() as s:
        rows, total = await queries.list_groups_in_scope(
            s,
            ctx.principal,
            params,
            partner_id=ctx.scope.partner_id,
            site_id=ctx.scope.site_id,
            predefined={"predefined": True, "dynamic": False}.get(type),
        )
        items = await queries.views(s, rows)
        missing = {g.parent_id for g in items if g.parent_id} - {g.id for g in items}
        parents = await queries.groups_by_id(s, ctx.principal, list(missing))
        sites = await _site_names(s, ctx.principal, {g.org_id for g in items if g.site_id})
        orgs = (
            {}
            if ctx.scope.org_id
            else {o.id: o.name for o in await scope_orgs(s, ctx.principal, ctx.scope.partner_id)}
        )
    nested = params.q is None and params.sort == "name"
    pages = max(1, -(-total // PER_PAGE))

    def page_url(n: int) -> str | None:
        if n < 1 or n > pages:
            return None
        return ctx.url("/groups", q=q or None, type=type or None, sort=sort, page=n)

    return render(
        ctx,
        "groups/list.html",
        {
            "rows": _tree(items) if nested else [(g, 0) for g in items],
            "total": total,
            "q": q,
            "type": type,
            "types": TYPES,
            "sort": params.sort,
            "parents": {gid: g.name for gid, g in parents.items()},
            "site_names": sites,
            "org_names": orgs,
            "can_create": ctx.can("devices:write"),
            "prev_url": page_url(page - 1),
            "next_url": page_url(page + 1),
            "sort_url": lambda key: ctx.url("/groups", q=q or None, type=type or None, sort=key),
        },
    )


# --- one group -------------------------------------------------------------------------


async def _names(s: AsyncSession, principal: Principal, group: DeviceGroup) -> Names:
    """Labels for the sites, groups and custom fields the group's rules name."""
    named = group_ids_named(group.rules) if group.rules else set()
    groups = await queries.groups_by_id(s, principal, list(named))
    sites = await _site_names(s, principal, {group.org_id})
    fields = await definitions_for_org(s, group.org_id)
    return Names(
        sites={str(k): v for k, v in sites.items()},
        groups={str(k): g.name for k, g in groups.items()},
        custom={f.key: f.name for f in fields},
    )


async def _members_context(
    ctx: WebCtx,
    group: DeviceGroup,
    *,
    page: int = 1,
    q: str = "",
    result: MembersResult | None = None,
    errors: dict[str, str] | None = None,
) -> dict[str, Any]:
    params = ListParams(
        page=page, per_page=MEMBERS_PER_PAGE, sort="hostname", q=q.strip() or None, filters={}
    )
    async with ctx.read() as s:
        members, total = await queries.list_members(s, ctx.principal, group.id, params)
        changed: list[uuid.UUID] = []
        if result is not None:
            changed = [*result.added, *result.removed, *(x.device_id for x in result.skipped)]
        named = await queries.devices_by_id(s, ctx.principal, changed)
    pages = max(1, -(-total // MEMBERS_PER_PAGE))

    def page_url(n: int) -> str | None:
        if n < 1 or n > pages:
            return None
        return ctx.url(f"/groups/{group.id}", mq=q or None, mpage=n) + "#members"

    can_edit = group.type == STATIC and ctx.can(
        "devices:write", partner_id=group.partner_id, org_id=group.org_id, site_id=group.site_id
    )
    return {
        "group": group,
        "members": members,
        "member_total": total,
        "mq": q,
        "members_prev": page_url(page - 1),
        "members_next": page_url(page + 1),
        "members_page": page,
        "members_pages": pages,
        "can_edit_members": can_edit,
        "result": result,
        "result_names": {d.id: d.display_name or d.hostname for d in named.values()},
        "member_errors": errors or {},
    }


async def _group_page(
    ctx: WebCtx,
    group_id: uuid.UUID,
    *,
    members: dict[str, Any] | None = None,
    delete_error: BreezeError | None = None,
    status: int = 200,
    mpage: int = 1,
    mq: str = "",
) -> HTMLResponse:
    async with ctx.read() as s:
        group = await queries.get_group(s, ctx.principal, group_id)
        (out,) = await queries.views(s, [group])
        place = await visible_place(
            s, ctx.principal, partner_id=None, org_id=group.org_id, via=("devices:read",)
        )
        parents = await queries.groups_by_id(
            s, ctx.principal, [group.parent_id] if group.parent_id else []
        )
        children, children_total = await queries.child_groups(s, ctx.principal, group.id)
        names = await _names(s, ctx.principal, group)
    where = {"partner_id": group.partner_id, "org_id": group.org_id, "site_id": group.site_id}
    context = {
        "group": group,
        "out": out,
        "org_name": place.name,
        "site_name": names.sites.get(str(group.site_id), "") if group.site_id else "",
        "parent": parents.get(group.parent_id) if group.parent_id else None,
        "children": children,
        "children_total": children_total,
        "rule_text": describe(group.rules, names) if group.rules else "",
        "can_write": ctx.can("devices:write", **where),
        "can_run": ctx.can("scripts:execute", **where),
        "may_add_child": may_write_in_org(ctx, group.partner_id, group.org_id),
        "delete_error": delete_error,
        **(members or await _members_context(ctx, group, page=mpage, q=mq)),
    }
    return render(ctx, "groups/detail.html", context, status=status)


@router.get("/groups/{group_id}", response_class=HTMLResponse)
async def group_page(
    ctx: WebCtxDep,
    group_id: uuid.UUID,
    mpage: int = Query(1, ge=1, le=100_000),
    mq: str = Query("", max_length=200),
) -> HTMLResponse:
    return await _group_page(ctx, group_id, mpage=mpage, mq=mq)


@router.get("/groups/{group_id}/members", response_class=HTMLResponse)
async def members_fragment(
    ctx: WebCtxDep,
    group_id: uuid.UUID,
    mpage: int = Query(1, ge=1, le=100_000),
    mq: str = Query("", max_length=200),
) -> HTMLResponse:
    """The members section alone (search and paging without reloading the page)."""
    async with ctx.read() as s:
        group = await queries.get_group(s, ctx.principal, group_id)
    context = await _members_context(ctx, group, page=mpage, q=mq)
    return render(ctx, "groups/_members.html", context)


@router.get("/groups/{group_id}/candidates", response_class=HTMLResponse)
async def candidates(
    ctx: WebCtxDep, group_id: uuid.UUID, q: str = Query("", max_length=200)
) -> HTMLResponse:
    """Devices of the group's organization (and site) matching `q`, to add by hand."""
    async with ctx.read() as s:
        group = await queries.get_group(s, ctx.principal, group_id)
        filters: dict[str, list[Any]] = {"org_id": [group.org_id]}
        if group.site_id:
            filters["site_id"] = [group.site_id]
        params = ListParams(
            page=1, per_page=CANDIDATES, sort="hostname", q=q.strip() or None, filters=filters
        )
        devices, total = await list_devices(s, ctx.principal, params)
        already = await queries.members_among(s, group.id, [d.id for d in devices])
    return render(
        ctx,
        "groups/_candidates.html",
        {"group": group, "devices": devices, "total": total, "already": already, "q": q},
    )


async def _change_members(
    ctx: WebCtx, group_id: uuid.UUID, request: Request, *, add: bool
) -> Response:
    data = form_values(await request.form(), lists=("device_ids",))
    async with ctx.read() as s:
        group = await queries.get_group(s, ctx.principal, group_id)
    try:
        body = parse(MembersChange, {"device_ids": data["device_ids"]})
        async with ctx.write() as uow:
            change = actions.do_add_members if add else actions.do_remove_members
            result = await change(
                uow.session, actor=ctx.principal, group_id=group.id, device_ids=body.device_ids
            )
    except BreezeError as exc:
        if exc.status in (401, 403) or (exc.status == 404 and not exc.problems):
            raise
        section = await _members_context(ctx, group, errors=field_errors(exc))
        if is_htmx(request):
            return render(ctx, "groups/_members.html", section, status=exc.status)
        return await _group_page(ctx, group.id, members=section, status=exc.status)
    section = await _members_context(ctx, group, result=result)
    if is_htmx(request):
        return render(ctx, "groups/_members.html", section)
    return await _group_page(ctx, group.id, members=section)


@router.post("/groups/{group_id}/members/add", response_model=None)
async def add_members(ctx: WebCtxDep, group_id: uuid.UUID, request: Request) -> Response:
    return await _change_members(ctx, group_id, request, add=True)


@router.post("/groups/{group_id}/members/remove", response_model=None)
async def remove_members(ctx: WebCtxDep, group_id: uuid.UUID, request: Request) -> Response:
    return await _change_members(ctx, group_id, request, add=False)


@router.post("/groups/{group_id}/delete", response_model=None)
async def delete_group(ctx: WebCtxDep, group_id: uuid.UUID) -> Response:
    """Delete; a refusal (children, rules naming it, predefined) is explained on the page."""
    async with ctx.read() as s:
        group = await queries.get_group(s, ctx.principal, group_id)
    try:
        async with ctx.write() as uow:
            await actions.do_delete_group(uow.session, actor=ctx.principal, group_id=group.id)
    except Conflict as exc:
        return await _group_page(ctx, group.id, delete_error=exc, status=exc.status)
    return ctx.redirect("/groups", f"Group '{group.name}' deleted")
