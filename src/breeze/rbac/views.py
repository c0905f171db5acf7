"""Console pages of roles: built-in and custom roles, and the permission matrix to view
them and to create or edit custom roles (thin: the same queries and actions as
rbac/api.py; the delegation limit is the action's, its refusal shown on the form)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.responses import HTMLResponse, Response

from breeze.core.errors import BreezeError, Forbidden
from breeze.core.pagination import ListParams
from breeze.rbac import actions, queries
from breeze.rbac.models import Role
from breeze.rbac.schemas import RoleCreate, RoleUpdate
from breeze.rbac.view_matrix import build_matrix
from breeze.users.queries import count_role_members
from breeze.users.view_forms import parse_place_key, place_choices
from breeze.web.context import WebCtx, WebCtxDep
from breeze.web.forms import field_errors, form_values, parse
from breeze.web.templating import render

router = APIRouter(include_in_schema=False)
PER_PAGE = 50
KINDS = ("builtin", "custom")


def _can_edit(ctx: WebCtx, role: Role, permission: str = "roles:write") -> bool:
    if role.is_system or role.partner_id is None:
        return False
    return ctx.principal.can(permission, partner_id=role.partner_id, org_id=role.org_id)


@router.get("/settings/roles", response_class=HTMLResponse)
async def roles_page(
    ctx: WebCtxDep,
    q: str = Query("", max_length=200),
    kind: str = Query("", max_length=20),
    page: int = Query(1, ge=1, le=100_000),
) -> HTMLResponse:
    if not ctx.can("roles:read"):
        raise Forbidden("You do not have the 'roles:read' permission in this scope")
    filters: dict[str, list[Any]] = {}
    if kind in KINDS:
        filters["is_system"] = [kind == "builtin"]
    params = ListParams(
        page=page, per_page=PER_PAGE, sort="name", q=q.strip() or None, filters=filters
    )
    async with ctx.read() as s:
        rows, total = await queries.roles_in_scope(
            s, ctx.principal, params, partner_id=ctx.scope.partner_id, org_id=ctx.scope.org_id
        )
        perms = await queries.permissions_of_roles(s, [r.id for r in rows])
        owners = await queries.owner_names(s, rows)
    roles = sorted(rows, key=lambda r: (not r.is_system, r.scope != "partner", r.name.lower()))
    return render(
        ctx,
        "settings/roles.html",
        {
            "roles": roles,
            "perms": perms,
            "owners": owners,
            "total": total,
            "page": page,
            "pages": max(1, -(-total // PER_PAGE)),
            "q": q,
            "kind": kind if kind in KINDS else "",
            "can_create": ctx.can("roles:write"),
        },
    )


async def _new_form(
    ctx: WebCtx, values: dict[str, Any], errors: dict[str, str] | None = None, status: int = 200
) -> HTMLResponse:
    async with ctx.read() as s:
        places = await place_choices(s, ctx, "roles:write")
        catalog = await queries.catalog(s)
    if not values.get("owner") and len(places) == 1:
        values["owner"] = places[0].key
    chosen = next((c for c in places if c.key == values.get("owner")), None)
    held = (
        ctx.principal.permissions_at(partner_id=chosen.partner_id, org_id=chosen.org_id)
        if chosen
        else None
    )
    matrix = build_matrix(catalog, values.get("permissions", []), held, readonly=False)
    return render(
        ctx,
        "settings/roles_form.html",
        {
            "role": None,
            "places": places,
            "matrix": matrix,
            "values": values,
            "errors": errors or {},
        },
        status=status,
    )


@router.get("/settings/roles/new", response_class=HTMLResponse)
async def new_role_page(
    ctx: WebCtxDep,
    owner: str = Query("", max_length=100),
    permissions: Annotated[list[str], Query(max_length=500)] = [],  # noqa: B006
) -> HTMLResponse:
    """The new-role form; with `owner`/`permissions` (htmx, owner changed) the same form
    with the matrix marking what the user holds at that owner."""
    if not ctx.can("roles:write"):
        raise Forbidden("You do not have the 'roles:write' permission in this scope")
    values = {"owner": owner, "scope": "organization", "permissions": permissions}
    return await _new_form(ctx, values)


@router.post("/settings/roles/new", response_class=HTMLResponse)
async def create_role(ctx: WebCtxDep) -> Response:
    values = form_values(await ctx.request.form(), lists=("permissions",))
    try:
        partner_id, org_id = parse_place_key(values.get("owner"))
        body = {
            "name": values.get("name") or "",
            "description": values.get("description") or "",
            "scope": "organization" if org_id else values.get("scope"),
            "partner_id": partner_id,
            "org_id": org_id,
            "permissions": values["permissions"],
        }
        data = parse(RoleCreate, body)
        async with ctx.write() as uow:
            role = await actions.do_create_role(uow.session, actor=ctx.principal, data=data)
            role_id, name = role.id, role.name
    except BreezeError as exc:
        errors = field_errors(exc)
        for key in ("partner_id", "org_id", "place"):
            if key in errors:
                errors.setdefault("owner", errors.pop(key))
        return await _new_form(ctx, values, errors, exc.status)
    return ctx.redirect(f"/settings/roles/{role_id}", f"Role '{name}' created")


async def _role_page(
    ctx: WebCtx,
    role_id: uuid.UUID,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    async with ctx.read() as s:
        role = await queries.get_role(s, ctx.principal, role_id)
        granted = (await queries.permissions_of_roles(s, [role.id]))[role.id]
        catalog = await queries.catalog(s)
        owners = await queries.owner_names(s, [role])
        members = 0 if role.is_system else await count_role_members(s, role.id)
    editable = _can_edit(ctx, role)
    held = None
    if editable and role.partner_id is not None:
        held = ctx.principal.permissions_at(partner_id=role.partner_id, org_id=role.org_id)
    chosen = values.get("permissions", []) if values is not None else granted
    matrix = build_matrix(catalog, chosen, held, readonly=not editable)
    return render(
        ctx,
        "settings/roles_form.html",
        {
            "role": role,
            "owner": owners.get(role.org_id or role.partner_id or uuid.UUID(int=0), ""),
            "members": members,
            "matrix": matrix,
            "values": values or {"name": role.name, "description": role.description},
            "errors": errors or {},
            "editable": editable,
            "can_delete": _can_edit(ctx, role, "roles:delete"),
        },
        status=status,
    )


@router.get("/settings/roles/{role_id:uuid}", response_class=HTMLResponse)
async def role_page(ctx: WebCtxDep, role_id: uuid.UUID) -> HTMLResponse:
    return await _role_page(ctx, role_id)


@router.post("/settings/roles/{role_id:uuid}", response_class=HTMLResponse)
async def update_role(ctx: WebCtxDep, role_id: uuid.UUID) -> Response:
    values = form_values(await ctx.request.form(), lists=("permissions",))
    try:
        body = {
            "name": values.get("name") or "",
            "description": values.get("description") or "",
            "permissions": values["permissions"],
        }
        data = parse(RoleUpdate, body)
        async with ctx.write() as uow:
            role = await actions.do_update_role(
                uow.session, actor=ctx.principal, role_id=role_id, data=data
            )
            name = role.name
    except BreezeError as exc:
        return await _role_page(ctx, role_id, values, field_errors(exc), exc.status)
    return ctx.redirect(f"/settings/roles/{role_id}", f"Role '{name}' saved")


@router.post("/settings/roles/{role_id:uuid}/delete")
async def delete_role(ctx: WebCtxDep, role_id: uuid.UUID) -> Response:
    async with ctx.write() as uow:
        name = (await queries.get_role(uow.session, ctx.principal, role_id)).name
        await actions.do_delete_role(uow.session, actor=ctx.principal, role_id=role_id)
    return ctx.redirect("/settings/roles", f"Role '{name}' deleted")
