"""Script library pages (thin): list, details, create, edit, delete.

The run dialog, batches, executions and versions live in views_run / views_batches /
views_versions; their routers are included first so that their fixed paths
(/scripts/run, /scripts/executions, ...) win over /scripts/{script_id}.
"""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from starlette.responses import HTMLResponse, Response

from breeze.core.errors import BreezeError, Forbidden, NotFound
from breeze.core.pagination import ListParams, list_query
from breeze.scripts import actions, queries, views_batches, views_run, views_versions
from breeze.scripts.errors import SystemScriptReadOnly
from breeze.scripts.models import Script
from breeze.scripts.parameters import secret_names
from breeze.scripts.schemas import ScriptCreate, ScriptUpdate
from breeze.scripts.views_forms import (
    LANGUAGES,
    OS_TYPES,
    ScriptForm,
    group_errors,
    param_fields,
)
from breeze.tenancy.queries import get_org, scope_orgs, scope_partners
from breeze.web.context import WebCtx, WebCtxDep
from breeze.web.forms import field_errors, parse
from breeze.web.templating import render

router = APIRouter(include_in_schema=False)
router.include_router(views_run.router)
router.include_router(views_batches.router)
router.include_router(views_versions.router)

ScriptList = Annotated[ListParams, Depends(list_query(queries.SCRIPT_LIST))]
NEW_SCRIPT = """#!/usr/bin/env bash
# Parameters arrive as environment variables.
set -euo pipefail

echo "Hello from $(hostname)"
"""


def can_write(ctx: WebCtx, script: Script) -> bool:
    if script.is_system:
        return False
    return ctx.can("scripts:write", partner_id=script.partner_id, org_id=script.org_id)


def can_delete(ctx: WebCtx, script: Script) -> bool:
    if script.is_system:
        return False
    return ctx.can("scripts:delete", partner_id=script.partner_id, org_id=script.org_id)


def can_run(ctx: WebCtx, script: Script | None = None) -> bool:
    """Running needs scripts:execute and devices:execute: at the script's organization,
    or (a partner-wide or system script) somewhere in the scope."""
    where: dict[str, Any] = {}
    if script is not None and script.org_id is not None:
        where = {"partner_id": script.partner_id, "org_id": script.org_id}
    return all(ctx.can(p, **where) for p in ("scripts:execute", "devices:execute"))


@router.get("/scripts", response_class=HTMLResponse)
async def library(ctx: WebCtxDep, params: ScriptList) -> HTMLResponse:
    scope = ctx.scope
    async with ctx.read() as s:
        rows, total = await queries.list_scripts_in(
            s, ctx.principal, params, partner_id=scope.partner_id, org_id=scope.org_id
        )
        categories = await queries.script_categories(
            s, ctx.principal, partner_id=scope.partner_id, org_id=scope.org_id
        )
    filters = {k: ",".join(str(v) for v in vals) for k, vals in params.filters.items()}
    query = {"q": params.q, "sort": params.sort, **filters}
    pages = max(1, -(-total // params.per_page))
    return render(
        ctx,
        "scripts/list.html",
        {
            "scripts": rows,
            "total": total,
            "params": params,
            "filters": filters,
            "categories": categories,
            "languages": LANGUAGES,
            "os_types": OS_TYPES,
            "query": query,
            "prev_url": ctx.url("/scripts", **query, page=params.page - 1)
            if params.page > 1
            else None,
            "next_url": ctx.url("/scripts", **query, page=params.page + 1)
            if params.page < pages
            else None,
            "can_create": ctx.can("scripts:write"),
            "can_run": can_run(ctx),
        },
    )


async def _owners(ctx: WebCtx) -> list[tuple[str, str]]:
    """Where the user may create a script: organizations, or a whole partner."""
    async with ctx.read() as s:
        orgs = await scope_orgs(s, ctx.principal, ctx.scope.partner_id)
        partners = (
            await scope_partners(s, ctx.principal)
            if ctx.principal.is_platform_admin or ctx.principal.partner_grants
            else []
        )
    options = [
        (f"org:{o.id}", o.name)
        for o in orgs
        if (ctx.scope.org_id in (None, o.id))
        and ctx.can("scripts:write", partner_id=o.partner_id, org_id=o.id)
    ]
    options += [
        (f"partner:{p.id}", f"All organizations of {p.name} (partner-wide)")
        for p in partners
        if (ctx.scope.partner_id in (None, p.id))
        and ctx.principal.can("scripts:write", partner_id=p.id)
    ]
    return options


async def _form_page(
    ctx: WebCtx,
    form: ScriptForm,
    *,
    script: Script | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    return render(
        ctx,
        "scripts/form.html",
        {
            "script": script,
            "form": form.values,
            "errors": group_errors(errors or {}),
            "raw_errors": errors or {},
            "errors_json": json.dumps(errors or {}),
            "owners": await _owners(ctx) if script is None else [],
            "languages": LANGUAGES,
            "os_types": OS_TYPES,
        },
        status=status,
    )


@router.get("/scripts/new", response_class=HTMLResponse)
async def new_script(ctx: WebCtxDep) -> HTMLResponse:
    if not ctx.can("scripts:write"):
        raise Forbidden("You do not have the 'scripts:write' permission here")
    form = ScriptForm(
        {
            "language": "bash",
            "os_types": ["linux", "macos"],
            "category": "general",
            "timeout_seconds": 300,
            "content": NEW_SCRIPT,
        }
    )
    return await _form_page(ctx, form)


@router.post("/scripts/new", response_class=HTMLResponse)
async def create_script(ctx: WebCtxDep) -> Response:
    form = ScriptForm.submitted(await ctx.request.form())
    try:
        body = parse(ScriptCreate, form.data(with_owner=True))
        async with ctx.write() as uow:
            script = await actions.do_create_script(uow.session, actor=ctx.principal, data=body)
            script_id, name = script.id, script.name
    except BreezeError as exc:
        return await _form_page(ctx, form, errors=field_errors(exc), status=exc.status)
    return ctx.redirect(f"/scripts/{script_id}", f"Script “{name}” created")


async def _script(ctx: WebCtx, script_id: uuid.UUID) -> Script:
    async with ctx.read() as s:
        return await queries.get_script(s, ctx.principal, script_id)


@router.get("/scripts/{script_id}", response_class=HTMLResponse)
async def script_detail(ctx: WebCtxDep, script_id: uuid.UUID) -> HTMLResponse:
    async with ctx.read() as s:
        script = await queries.get_script(s, ctx.principal, script_id)
        latest = await queries.version_row(s, script.id, script.version)
        owner = None
        if script.org_id is not None:
            try:
                owner = (await get_org(s, ctx.principal, script.org_id, "scripts:read")).name
            except NotFound:
                owner = None
        runs, runs_total = await queries.list_executions_in(
            s,
            ctx.principal,
            ListParams(page=1, per_page=10, sort=None, q=None, filters={"script_id": [script.id]}),
            partner_id=ctx.scope.partner_id,
            org_id=ctx.scope.org_id,
            site_id=ctx.scope.site_id,
        )
        executions = await queries.execution_views(s, runs)
    return render(
        ctx,
        "scripts/detail.html",
        {
            "script": script,
            "latest": latest,
            "owner": owner,
            "params": param_fields(script.parameters),
            "secrets": secret_names(script.parameters),
            "executions": executions,
            "executions_total": runs_total,
            "can_edit": can_write(ctx, script),
            "can_delete": can_delete(ctx, script),
            "can_run": can_run(ctx, script),
            "languages": dict(LANGUAGES),
        },
    )


@router.get("/scripts/{script_id}/edit", response_class=HTMLResponse)
async def edit_script(ctx: WebCtxDep, script_id: uuid.UUID) -> HTMLResponse:
    script = await _script(ctx, script_id)
    if script.is_system:
        raise SystemScriptReadOnly()
    if not can_write(ctx, script):
        raise Forbidden("You do not have the 'scripts:write' permission for this script")
    return await _form_page(ctx, ScriptForm.of(script), script=script)


@router.post("/scripts/{script_id}/edit", response_class=HTMLResponse)
async def update_script(ctx: WebCtxDep, script_id: uuid.UUID) -> Response:
    script = await _script(ctx, script_id)
    form = ScriptForm.submitted(await ctx.request.form())
    try:
        body = parse(ScriptUpdate, form.data(with_owner=False))
        async with ctx.write() as uow:
            updated = await actions.do_update_script(
                uow.session, actor=ctx.principal, script_id=script_id, data=body
            )
            version = updated.version
    except BreezeError as exc:
        return await _form_page(
            ctx, form, script=script, errors=field_errors(exc), status=exc.status
        )
    if version == script.version:
        return ctx.redirect(f"/scripts/{script_id}", "Nothing changed", "info")
    return ctx.redirect(f"/scripts/{script_id}", f"Saved as version {version}")


@router.post("/scripts/{script_id}/delete")
async def delete_script(ctx: WebCtxDep, script_id: uuid.UUID) -> Response:
    async with ctx.write() as uow:
        await actions.do_delete_script(uow.session, actor=ctx.principal, script_id=script_id)
    return ctx.redirect("/scripts", "Script deleted; its past runs stay in the history")
