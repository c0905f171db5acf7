"""Script library, execution and batch routes (thin: parse, act or query, answer).

The router's lifespan synchronises the built-in system scripts when the app starts.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from breeze.auth.deps import CurrentCtx
from breeze.commands.queries import COMMAND_LIST, list_commands
from breeze.core.pagination import ListParams, Page, list_query, page_of
from breeze.ops.gc import collections_deferred
from breeze.scripts import actions, execution, queries
from breeze.scripts.builtin import builtin_lifespan
from breeze.scripts.schemas import (
    BatchOut,
    ExecuteOut,
    ExecuteRequest,
    ExecutionDetail,
    ExecutionOut,
    RerunRequest,
    ScriptCreate,
    ScriptOut,
    ScriptSummary,
    ScriptUpdate,
    ScriptVersionOut,
    ScriptVersionSummary,
)

router = APIRouter(lifespan=builtin_lifespan)
library = APIRouter(prefix="/scripts", tags=["scripts"])
runs = APIRouter(tags=["scripts"])
ScriptList = Annotated[ListParams, Depends(list_query(queries.SCRIPT_LIST))]
VersionList = Annotated[ListParams, Depends(list_query(queries.VERSION_LIST))]
ExecutionList = Annotated[ListParams, Depends(list_query(COMMAND_LIST))]
Version = Annotated[int, Path(ge=1, le=2_147_483_647)]
JSON = "application/json"


@library.get("", response_model=Page[ScriptSummary])
async def list_scripts(ctx: CurrentCtx, params: ScriptList) -> Page[ScriptSummary]:
    """Scripts in reach, system scripts included; `q` searches name and description.
    The content is in the single-script answer."""
    async with ctx.read() as s:
        rows, total = await queries.list_scripts(s, ctx.principal, params)
    return page_of([ScriptSummary.model_validate(r) for r in rows], total, params)


@library.post("", response_model=ScriptOut, status_code=status.HTTP_201_CREATED)
async def create_script(ctx: CurrentCtx, body: ScriptCreate) -> ScriptOut:
    """Create a script of an organization (org_id) or of a whole partner (partner_id)."""
    async with ctx.write() as uow:
        script = await actions.do_create_script(uow.session, actor=ctx.principal, data=body)
    return ScriptOut.model_validate(script)


@library.get("/{script_id}", response_model=ScriptOut)
async def get_script(ctx: CurrentCtx, script_id: uuid.UUID) -> ScriptOut:
    async with ctx.read() as s:
        return ScriptOut.model_validate(await queries.get_script(s, ctx.principal, script_id))


@library.patch("/{script_id}", response_model=ScriptOut)
async def update_script(ctx: CurrentCtx, script_id: uuid.UUID, body: ScriptUpdate) -> ScriptOut:
    """Change a script; a real change stores a new version (system scripts: 403)."""
    async with ctx.write() as uow:
        script = await actions.do_update_script(
            uow.session, actor=ctx.principal, script_id=script_id, data=body
        )
    return ScriptOut.model_validate(script)


@library.delete("/{script_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_script(ctx: CurrentCtx, script_id: uuid.UUID) -> None:
    """Remove a script from the library; its versions and executions stay readable."""
    async with ctx.write() as uow:
        await actions.do_delete_script(uow.session, actor=ctx.principal, script_id=script_id)


@library.get("/{script_id}/versions", response_model=Page[ScriptVersionSummary])
async def list_versions(
    ctx: CurrentCtx, script_id: uuid.UUID, params: VersionList
) -> Page[ScriptVersionSummary]:
    async with ctx.read() as s:
        rows, total = await queries.list_versions(s, ctx.principal, script_id, params)
    return page_of(queries.version_summaries(rows), total, params)


@library.get("/{script_id}/versions/{version}", response_model=ScriptVersionOut)
async def get_version(ctx: CurrentCtx, script_id: uuid.UUID, version: Version) -> ScriptVersionOut:
    async with ctx.read() as s:
        row = await queries.get_version(s, ctx.principal, script_id, version)
    return ScriptVersionOut.model_validate(row)


async def _answer(s: AsyncSession, launched: execution.Launched) -> ExecuteOut:
    (batch,) = await queries.batch_views(s, [launched.batch])
    return ExecuteOut(
        batch=batch,
        executions=queries.queued_views(launched.batch, launched.commands, launched.device_names),
        skipped=launched.skipped,
    )


async def _executed(ctx: CurrentCtx, script_id: uuid.UUID, body: ExecuteRequest) -> str:
    """Launch, then the answer as JSON text. Its own function so that the rows, frames
    and models of a launch are freed when it returns, before `collections_deferred`
    lets the collector run again: it then finds their garbage, not walks them alive."""
    async with ctx.write() as uow:
        launched = await execution.do_execute_script(
            uow,
            actor=ctx.principal,
            settings=ctx.settings,
            script_id=script_id,
            req=body,
            sockets=ctx.state.sockets,
        )
    # After the commit, which handed the commands to the sockets: agents need not wait
    # for an answer that lists thousands of executions.
    async with ctx.read() as s:
        answer = await _answer(s, launched)
    # Straight to JSON text (the route's response_model documents it): the models are
    # built by the server from rows it wrote, and FastAPI's way through plain dicts cost
    # about three times as much for 10,000 executions.
    return answer.model_dump_json()


@library.post(
    "/{script_id}/execute", response_model=ExecuteOut, status_code=status.HTTP_201_CREATED
)
async def execute_script(ctx: CurrentCtx, script_id: uuid.UUID, body: ExecuteRequest) -> Response:
    """Run the script's current version on devices, every device of sites, or of
    organizations: one batch, one execution per device. Devices of another operating
    system are listed in `skipped`."""
    with collections_deferred():  # up to 10,000 devices' rows and frames, made at once
        text = await _executed(ctx, script_id, body)
    return Response(text, status_code=status.HTTP_201_CREATED, media_type=JSON)


@runs.get("/script-executions", response_model=Page[ExecutionOut])
async def list_executions(ctx: CurrentCtx, params: ExecutionList) -> Page[ExecutionOut]:
    """Script executions, newest first; filter by script_id, device_id, batch_id, status
    and time."""
    async with ctx.read() as s:
        rows, total = await list_commands(s, ctx.principal, params, type="script")
        items = await queries.execution_views(s, rows)
    return page_of(items, total, params)


@runs.get("/script-executions/{execution_id}", response_model=ExecutionDetail)
async def get_execution(ctx: CurrentCtx, execution_id: uuid.UUID) -> ExecutionDetail:
    """One execution with its output; secret parameter values read ********."""
    async with ctx.read() as s:
        cmd = await execution.get_execution(s, ctx.principal, execution_id)
        return await queries.execution_detail(s, cmd)


@runs.post(
    "/script-executions/{execution_id}/rerun",
    response_model=ExecuteOut,
    status_code=status.HTTP_201_CREATED,
)
async def rerun_execution(
    ctx: CurrentCtx, execution_id: uuid.UUID, body: RerunRequest
) -> ExecuteOut:
    """Run the same script version with the same parameters on the same device again (a
    new batch). Secret parameters must be given again."""
    async with ctx.write() as uow:
        launched = await execution.do_rerun_execution(
            uow, actor=ctx.principal, settings=ctx.settings, execution_id=execution_id, req=body
        )
        return await _answer(uow.session, launched)


@runs.post("/script-executions/{execution_id}/cancel", response_model=ExecutionOut)
async def cancel_execution(ctx: CurrentCtx, execution_id: uuid.UUID) -> ExecutionOut:
    """Cancel: a pending execution at once; a running one is stopped by the agent."""
    async with ctx.write() as uow:
        cmd = await execution.do_cancel_execution(
            uow, actor=ctx.principal, execution_id=execution_id
        )
        (out,) = await queries.execution_views(uow.session, [cmd])
    return out


@runs.get("/script-batches/{batch_id}", response_model=BatchOut)
async def get_batch(ctx: CurrentCtx, batch_id: uuid.UUID) -> BatchOut:
    """A batch with its progress (executions per state)."""
    async with ctx.read() as s:
        (out,) = await queries.batch_views(s, [await queries.get_batch(s, ctx.principal, batch_id)])
    return out


router.include_router(library)
router.include_router(runs)
