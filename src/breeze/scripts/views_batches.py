"""Script runs: a batch's live page (per-device status and streamed output), the
execution history, and cancelling or re-running one execution."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from starlette.responses import HTMLResponse, Response

from breeze.commands.models import FINAL_STATES, STATES
from breeze.commands.queries import COMMAND_LIST, list_commands
from breeze.core.errors import BreezeError
from breeze.core.pagination import ListParams, list_query
from breeze.scripts import execution, queries
from breeze.scripts.schemas import RerunRequest
from breeze.web.context import WebCtx, WebCtxDep
from breeze.web.templating import render

router = APIRouter(include_in_schema=False)

ExecutionList = Annotated[ListParams, Depends(list_query(COMMAND_LIST))]
BATCH_PAGE = 100
AUTO_OPEN = 6  # a batch this small opens every device's output at once


def _can_execute(ctx: WebCtx, row: Any) -> bool:
    where = {"partner_id": row.partner_id, "org_id": row.org_id, "site_id": row.site_id}
    return ctx.can("scripts:execute", **where) and ctx.can("devices:execute", **where)


def _pages(ctx: WebCtx, path: str, params: ListParams, total: int, **query: Any) -> dict[str, Any]:
    pages = max(1, -(-total // params.per_page))
    return {
        "prev_url": ctx.url(path, **query, page=params.page - 1) if params.page > 1 else None,
        "next_url": ctx.url(path, **query, page=params.page + 1) if params.page < pages else None,
        "page": params.page,
        "pages": pages,
    }


@router.get("/scripts/batches/{batch_id}", response_class=HTMLResponse)
async def batch_page(ctx: WebCtxDep, batch_id: uuid.UUID, page: int = 1) -> HTMLResponse:
    params = ListParams(
        page=max(1, page),
        per_page=BATCH_PAGE,
        sort="created_at",
        q=None,
        filters={"batch_id": [batch_id]},
    )
    async with ctx.read() as s:
        batch = await queries.get_batch(s, ctx.principal, batch_id)
        (view,) = await queries.batch_views(s, [batch])
        rows, total = await list_commands(s, ctx.principal, params, type="script")
        executions = await queries.execution_views(s, rows)
    outputs = {r.id: (r.stdout, r.stderr, r.stdout_truncated, r.stderr_truncated) for r in rows}
    return render(
        ctx,
        "scripts/batch.html",
        {
            "batch": view,
            "executions": executions,
            "outputs": outputs,
            "final_states": FINAL_STATES,
            "states": STATES,
            "auto_open": total <= AUTO_OPEN,
            "can_cancel": {r.id: _can_execute(ctx, r) for r in rows},
            "can_rerun": any(_can_execute(ctx, r) for r in rows),
            "total": total,
            **_pages(ctx, f"/scripts/batches/{batch_id}", params, total),
        },
    )


@router.get("/scripts/executions", response_class=HTMLResponse)
async def executions_page(ctx: WebCtxDep, params: ExecutionList) -> HTMLResponse:
    scope = ctx.scope
    async with ctx.read() as s:
        rows, total = await queries.list_executions_in(
            s,
            ctx.principal,
            params,
            partner_id=scope.partner_id,
            org_id=scope.org_id,
            site_id=scope.site_id,
        )
        executions = await queries.execution_views(s, rows)
        scripts = await queries.script_choices(
            s, ctx.principal, partner_id=scope.partner_id, org_id=scope.org_id
        )
        device_ids = params.filters.get("device_id", [])
        devices = await queries.device_names(s, device_ids)
    filters = {k: ",".join(str(v) for v in vals) for k, vals in params.filters.items()}
    query = {"sort": params.sort, **filters}
    return render(
        ctx,
        "scripts/executions.html",
        {
            "executions": executions,
            "total": total,
            "filters": filters,
            "scripts": scripts,
            "devices": devices,
            "states": STATES,
            "query": query,
            **_pages(ctx, "/scripts/executions", params, total, **query),
        },
    )


@router.post("/scripts/executions/{execution_id}/cancel")
async def cancel_execution(ctx: WebCtxDep, execution_id: uuid.UUID) -> Response:
    async with ctx.write() as uow:
        cmd = await execution.do_cancel_execution(
            uow, actor=ctx.principal, execution_id=execution_id
        )
        batch_id, status = cmd.batch_id, cmd.status
    message = "Cancelled" if status == "cancelled" else "Cancel requested; the agent stops it"
    back = f"/scripts/batches/{batch_id}" if batch_id else "/scripts/executions"
    return ctx.redirect(back, message)


@router.post("/scripts/executions/{execution_id}/rerun")
async def rerun_execution(ctx: WebCtxDep, execution_id: uuid.UUID) -> Response:
    """Run the same version with the same parameters on the same device; a script with
    secret parameters goes through the run dialog instead (secrets are not kept)."""
    try:
        async with ctx.write() as uow:
            launched = await execution.do_rerun_execution(
                uow,
                actor=ctx.principal,
                settings=ctx.settings,
                execution_id=execution_id,
                req=RerunRequest(),
            )
            batch_id = launched.batch.id
    except BreezeError as exc:
        if exc.status != 422:
            raise
        async with ctx.read() as s:
            cmd = await execution.get_execution(s, ctx.principal, execution_id)
        path = f"/scripts/run?script_id={cmd.script_id}&device_ids={cmd.device_id}"
        return ctx.redirect(path, f"{exc.detail}. Fill them in here.", "warning")
    return ctx.redirect(f"/scripts/batches/{batch_id}", "Running again")
