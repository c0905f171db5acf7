"""Agent gateway routes of commands (protocol v1): acknowledge, stream output, report the
result. Authenticated by the agent token; another device's command answers 404."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, status

from breeze.agents.auth import CurrentAgent
from breeze.commands import delivery, ingest
from breeze.commands.queries import command_of_device
from breeze.core.errors import InvalidInput
from breeze.core.state import app_state
from breeze_protocol.commands import CommandAck, CommandResult, OutputBatch

router = APIRouter(prefix="/agents", tags=["agent gateway"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such command for this device"}
}


@router.post(
    "/{agent_id}/commands/{command_id}/ack",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=NOT_FOUND,
)
async def ack(
    request: Request, agent: CurrentAgent, command_id: uuid.UUID, body: CommandAck
) -> None:
    """The command started: it is now ``running`` (repeats change nothing)."""
    await ingest.ack_command(app_state(request), agent.device_id, command_id, body)


@router.post(
    "/{agent_id}/commands/{command_id}/output",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=NOT_FOUND,
)
async def output(
    request: Request, agent: CurrentAgent, command_id: uuid.UUID, body: OutputBatch
) -> None:
    """Output of a running command; a chunk already stored (same seq) is ignored."""
    for i, chunk in enumerate(body.chunks):
        if chunk.command_id != str(command_id):
            raise InvalidInput(
                "every chunk must name the command of the URL", field=f"chunks.{i}.command_id"
            )
    state = app_state(request)
    async with state.db.read() as s:
        await command_of_device(s, command_id, agent.device_id)
    await delivery.store_output(state, agent.device_id, body.chunks)


@router.post(
    "/{agent_id}/commands/{command_id}/result",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=NOT_FOUND,
)
async def result(
    request: Request, agent: CurrentAgent, command_id: uuid.UUID, body: CommandResult
) -> None:
    """The final result; idempotent (a repeat changes nothing), late results are kept."""
    await ingest.result_command(
        app_state(request), agent.device_id, command_id, body, actor=agent.actor
    )
