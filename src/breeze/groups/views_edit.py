"""Console pages that create and edit device groups (the visual rule builder lives in
web/src/islands/rule_builder.js; it previews through POST /api/v1/device-groups/preview).

Thin: the forms are parsed with the API's own GroupCreate / GroupUpdate and handed to the
same actions as the JSON routes."""

from __future__ import annotations

import json
import uuid
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, Response

from breeze.core.errors import BreezeError, Forbidden, InvalidInput
from breeze.customfields.queries import definitions_for_org
from breeze.devices.queries import tag_counts
from breeze.groups import actions, queries
from breeze.groups.models import DYNAMIC, DeviceGroup
from breeze.groups.schemas import GroupCreate, GroupUpdate
from breeze.groups.views_rules import Choice, catalog
from breeze.rbac.queries import visible_place
from breeze.tenancy.queries import scope_orgs, scope_sites
from breeze.web.context import WebCtx, WebCtxDep
from breeze.web.forms import field_errors, form_values, parse
from breeze.web.templating import render

router = APIRouter(include_in_schema=False)
TAG_SUGGESTIONS = 100
STARTER_RULES: dict[str, Any] = {"all": [{"field": "os_type", "op": "eq", "value": "linux"}]}


def may_write_in_org(ctx: WebCtx, partner_id: uuid.UUID, org_id: uuid.UUID) -> bool:
    """devices:write in the organization, or in one of its sites."""
    if ctx.can("devices:write", partner_id=partner_id, org_id=org_id):
        return True
    return any(
        g.org_id == org_id and "devices:write" in g.permissions for g in ctx.principal.org_grants
    )


def _indented(groups: list[DeviceGroup], skip: uuid.UUID | None = None) -> list[tuple[str, str]]:
    """(id, name) of groups as a tree: children under their parent, indented; `skip` and
    its descendants left out (a group cannot move under itself)."""
    by_parent: dict[uuid.UUID | None, list[DeviceGroup]] = {}
    ids = {g.id for g in groups}
    for g in groups:
        parent = g.parent_id if g.parent_id in ids else None
        by_parent.setdefault(parent, []).append(g)
    out: list[tuple[str, str]] = []

    def walk(parent: uuid.UUID | None, depth: int) -> None:
        for g in by_parent.get(parent, []):
            if g.id == skip:
                continue
            out.append((str(g.id), "\u2003" * depth + ("↳ " if depth else "") + g.name))
            walk(g.id, depth + 1)

    walk(None, 0)
    return out


async def _form_context(
    ctx: WebCtx, org_id: uuid.UUID, group: DeviceGroup | None = None
) -> dict[str, Any]:
    """The organization and what its form and rule builder offer."""
    async with ctx.read() as s:
        place = await visible_place(
            s, ctx.principal, partner_id=None, org_id=org_id, via=("devices:read",)
        )
        assert place.org_id is not None
        sites = await scope_sites(s, ctx.principal, place.org_id)
        groups = await queries.visible_org_groups(s, ctx.principal, place.org_id)
        tags = await tag_counts(s, ctx.principal, [place.org_id])
        definitions = await definitions_for_org(s, place.org_id)
    if group is not None:
        allowed = ctx.can(
            "devices:write", partner_id=group.partner_id, org_id=group.org_id, site_id=group.site_id
        )
    else:
        allowed = may_write_in_org(ctx, place.partner_id, place.org_id)
    if not allowed:
        raise Forbidden("You may not create or change device groups in this organization")
    writable_sites = [
        site
        for site in sites
        if ctx.can("devices:write", partner_id=place.partner_id, org_id=org_id, site_id=site.id)
    ]
    site_choices = [Choice(str(site.id), site.name) for site in sites]
    group_choices = [Choice(str(g.id), g.name) for g in groups if group is None or g.id != group.id]
    return {
        "place": place,
        "site_options": [(str(site.id), site.name) for site in writable_sites],
        "site_names": {str(site.id): site.name for site in sites},
        "parent_options": _indented(groups, skip=group.id if group else None),
        "catalog": json.dumps(
            catalog(
                sites=site_choices,
                groups=group_choices,
                tags=[t for t, _ in tags[:TAG_SUGGESTIONS]],
                custom_fields=definitions,
            ),
            separators=(",", ":"),
        ),
    }


def _rules_from_form(raw: Any) -> Any:
    """The rules JSON the builder (or a technician, in the raw view) wrote."""
    if raw is None or not str(raw).strip():
        raise InvalidInput("A dynamic group needs rules: add at least one condition", field="rules")
    try:
        return json.loads(str(raw))
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"The rules are not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})",
            field="rules",
        ) from None


def _refusable(exc: BreezeError) -> bool:
    """Errors a form shows beside its fields (not: forbidden, or a page that is gone)."""
    if exc.status in (401, 403):
        return False
    return not (exc.status == 404 and not exc.problems)


def _page(
    ctx: WebCtx,
    form_ctx: dict[str, Any],
    values: dict[str, Any],
    *,
    group: DeviceGroup | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    rule_errors = {k: v for k, v in (errors or {}).items() if k.startswith("rules")}
    return render(
        ctx,
        "groups/form.html",
        {
            **form_ctx,
            "group": group,
            "values": values,
            "errors": errors or {},
            "rule_errors": json.dumps(rule_errors),
        },
        status=status,
    )


@router.get("/groups/new", response_class=HTMLResponse)
async def new_group(
    ctx: WebCtxDep,
    org_id: uuid.UUID | None = None,
    parent_id: uuid.UUID | None = None,
    type: str = "static",
) -> HTMLResponse:
    """The new-group form; without an organization in the scope, first choose one."""
    org_id = org_id or ctx.scope.org_id
    if org_id is None:
        async with ctx.read() as s:
            orgs = await scope_orgs(s, ctx.principal, ctx.scope.partner_id)
        writable = [o for o in orgs if may_write_in_org(ctx, o.partner_id, o.id)]
        if len(writable) != 1:
            return render(ctx, "groups/choose_org.html", {"orgs": writable})
        org_id = writable[0].id
    form_ctx = await _form_context(ctx, org_id)
    values: dict[str, Any] = {
        "org_id": str(org_id),
        "type": DYNAMIC if type == DYNAMIC else "static",
        "site_id": str(ctx.scope.site_id) if ctx.scope.site_id else None,
        "parent_id": str(parent_id) if parent_id else None,
        "rules": json.dumps(STARTER_RULES),
    }
    return _page(ctx, form_ctx, values)


@router.post("/groups/new", response_model=None)
async def create_group(ctx: WebCtxDep, request: Request) -> Response:
    data = form_values(await request.form())
    try:
        org_id = uuid.UUID(str(data.get("org_id")))
    except ValueError:
        raise InvalidInput("Choose the organization", field="org_id") from None
    form_ctx = await _form_context(ctx, org_id)
    values = {**data, "org_id": str(org_id)}
    try:
        body = {k: data.get(k) for k in ("org_id", "site_id", "parent_id", "name", "type")}
        body["name"] = data.get("name") or ""
        body["description"] = data.get("description") or ""
        if data.get("type") == DYNAMIC:
            body["rules"] = _rules_from_form(data.get("rules"))
        create = parse(GroupCreate, body)
        async with ctx.write() as uow:
            group = await actions.do_create_group(uow.session, actor=ctx.principal, data=create)
    except BreezeError as exc:
        if not _refusable(exc):
            raise
        return _page(ctx, form_ctx, values, errors=field_errors(exc), status=exc.status)
    return ctx.redirect(f"/groups/{group.id}", f"Group '{group.name}' created")


@router.get("/groups/{group_id}/edit", response_class=HTMLResponse)
async def edit_group(ctx: WebCtxDep, group_id: uuid.UUID) -> HTMLResponse:
    async with ctx.read() as s:
        group = await queries.get_group(s, ctx.principal, group_id)
    form_ctx = await _form_context(ctx, group.org_id, group)
    return _page(ctx, form_ctx, _group_values(group), group=group)


def _group_values(group: DeviceGroup) -> dict[str, Any]:
    return {
        "org_id": str(group.org_id),
        "name": group.name,
        "description": group.description,
        "type": group.type,
        "site_id": str(group.site_id) if group.site_id else None,
        "parent_id": str(group.parent_id) if group.parent_id else None,
        "rules": json.dumps(group.rules) if group.rules is not None else "",
    }


@router.post("/groups/{group_id}/edit", response_model=None)
async def update_group(ctx: WebCtxDep, group_id: uuid.UUID, request: Request) -> Response:
    data = form_values(await request.form())
    async with ctx.read() as s:
        group = await queries.get_group(s, ctx.principal, group_id)
    form_ctx = await _form_context(ctx, group.org_id, group)
    values = {**_group_values(group), **data}
    try:
        body: dict[str, Any] = {
            "name": data.get("name") or "",
            "description": data.get("description") or "",
            "parent_id": data.get("parent_id"),
        }
        if group.type == DYNAMIC and not group.predefined:
            body["rules"] = _rules_from_form(data.get("rules"))
        change = parse(GroupUpdate, body)
        async with ctx.write() as uow:
            saved = await actions.do_update_group(
                uow.session, actor=ctx.principal, group_id=group.id, data=change
            )
    except BreezeError as exc:
        if not _refusable(exc):
            raise
        return _page(
            ctx, form_ctx, values, group=group, errors=field_errors(exc), status=exc.status
        )
    return ctx.redirect(f"/groups/{saved.id}", f"Group '{saved.name}' saved")
