"""The agent token lookup also says whether the device has anything to hand out, so a
heartbeat with nothing to claim makes no claim query. Checked against the live server's
database at each step of a command's life: the flag must be true exactly when a claim
would find something (a due command, or a cancel to repeat)."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import update

from breeze.agents.auth import TokenLookup
from breeze.commands.models import DeviceCommand
from breeze.core.security import token_hash
from breeze.db.base import utcnow
from tests.integration.commands.helpers import Agent, detail, queued
from tests.integration.metrics.helpers import database_of
from tests.support.server import LiveServer


async def _has_commands(server: LiveServer, agent: Agent) -> bool:
    async with database_of(server) as db:
        owner = await TokenLookup(db).find(token_hash(agent.token))
    assert owner is not None and owner.agent_id == agent.agent_id
    return owner.has_commands


def _cancel(api: httpx.Client, agent: Agent, command_id: str) -> None:
    answer = api.post(f"/api/v1/devices/{agent.device_id}/commands/{command_id}/cancel")
    assert answer.status_code == 200, answer.text


async def test_the_flag_follows_due_commands_and_cancels(
    cmd_admin: httpx.Client, agent: Agent, cmd_server: LiveServer
) -> None:
    assert not await _has_commands(cmd_server, agent)

    cmd = queued(cmd_admin, agent.device_id, "collect_inventory")
    assert await _has_commands(cmd_server, agent)

    [envelope] = agent.heartbeat()  # claimed: sent, nothing left to hand out
    assert envelope.id == cmd["id"]
    assert not await _has_commands(cmd_server, agent)

    _cancel(cmd_admin, agent, cmd["id"])
    assert await _has_commands(cmd_server, agent)  # the cancel is repeated every beat
    assert [e.type for e in agent.heartbeat()] == ["cancel"]
    assert await _has_commands(cmd_server, agent)
    agent.result(cmd["id"], "cancelled", error="cancelled by the server")
    assert detail(cmd_admin, agent.device_id, cmd["id"])["status"] == "cancelled"
    assert not await _has_commands(cmd_server, agent)


async def test_an_expired_pending_command_is_not_work(
    cmd_admin: httpx.Client, agent: Agent, cmd_server: LiveServer
) -> None:
    cmd = queued(cmd_admin, agent.device_id, "collect_inventory")
    async with database_of(cmd_server) as db, db.write() as uow:
        await uow.session.execute(
            update(DeviceCommand)
            .where(DeviceCommand.id == uuid.UUID(cmd["id"]))
            .values(expires_at=utcnow())
            .execution_options(synchronize_session=False)
        )
    assert not await _has_commands(cmd_server, agent)
    assert agent.heartbeat() == []


async def test_a_beat_without_work_still_answers_and_a_later_command_goes_out(
    cmd_admin: httpx.Client, agent: Agent
) -> None:
    assert agent.heartbeat() == []
    cmd = queued(cmd_admin, agent.device_id, "collect_inventory")
    assert [e.id for e in agent.heartbeat()] == [cmd["id"]]
