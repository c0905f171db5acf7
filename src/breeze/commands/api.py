"""Command routes: the console's queue, history and cancel (thin). The agent gateway's
ack/output/result (`commands.gateway`) is mounted by `app.py`, ahead of the console routes.
The router's lifespan binds the bus that actions publish on."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, status

from breeze.auth.deps import CurrentCtx
from breeze.commands import actions, events, queries
from breeze.commands.schemas import CommandCreate, CommandDetail, CommandOut, OutputChunkOut
from breeze.core.pagination import ListParams, Page, list_query, page_of
from breeze.devices.queries import get_device


@asynccontextmanager
async def commands_lifespan(app: Any) -> AsyncIterator[None]:
    bus = app.state.breeze.bus
    events.bind(bus)
    try:
        yield
    finally:
        events.unbind(bus)


router = APIRouter(lifespan=commands_lifespan)
console = APIRouter(prefix="/devices/{device_id}/commands", tags=["commands"])
CommandList = Annotated[ListParams, Depends(list_query(queries.DEVICE_COMMAND_LIST))]


@console.post("", response_model=CommandOut, status_code=status.HTTP_201_CREATED)
async def queue_command(ctx: CurrentCtx, device_id: uuid.UUID, body: CommandCreate) -> CommandOut:
    """Queue a command; the device gets it at once when connected, else when it returns
    (before `expires_in_seconds`). Needs devices:execute (and scripts:execute for a script)."""
    # update_agent may build the server's agent wheel on first use: not on the event loop.
    payload = await asyncio.to_thread(actions.resolve_payload, ctx.state, body.type, body.payload)
    async with ctx.write() as uow:
        device = await get_device(uow.session, ctx.principal, device_id)
        cmd = await actions.do_queue_command(
            uow,
            actor=ctx.principal,
            device=device,
            type=body.type,
            payload=payload,
            settings=ctx.settings,
            timeout_seconds=body.timeout_seconds,
            expires_in_seconds=body.expires_in_seconds,
            secret_names=body.secret_names,
        )
    return CommandOut.model_validate(cmd)


@console.get("", response_model=Page[CommandOut])
async def list_commands(
    ctx: CurrentCtx, device_id: uuid.UUID, params: CommandList
) -> Page[CommandOut]:
    """The device's command history, newest first; filter by status, type and time."""
    async with ctx.read() as s:
        await get_device(s, ctx.principal, device_id)
        rows, total = await queries.list_commands(s, ctx.principal, params, device_id=device_id)
    return page_of([CommandOut.model_validate(r) for r in rows], total, params)


@console.get("/{command_id}", response_model=CommandDetail)
async def get_command(
    ctx: CurrentCtx, device_id: uuid.UUID, command_id: uuid.UUID
) -> CommandDetail:
    """One command; while it runs, `output` holds what it printed so far."""
    async with ctx.read() as s:
        cmd = await queries.get_command(s, ctx.principal, command_id, device_id=device_id)
        chunks = [] if cmd.stdout is not None else await queries.output_chunks(s, cmd.id)
    out = CommandOut.model_validate(cmd).model_dump()
    return CommandDetail(**out, output=[OutputChunkOut.model_validate(c) for c in chunks])


@console.post("/{command_id}/cancel", response_model=CommandOut)
async def cancel_command(
    ctx: CurrentCtx, device_id: uuid.UUID, command_id: uuid.UUID
) -> CommandOut:
    """Cancel: a pending command at once, a running one as soon as the agent stops it.
    A finished command answers 409."""
    async with ctx.write() as uow:
        cmd = await actions.do_cancel_command(
            uow, actor=ctx.principal, command_id=command_id, device_id=device_id
        )
    return CommandOut.model_validate(cmd)


router.include_router(console)
