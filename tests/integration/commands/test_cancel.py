"""Cancelling: a pending command at once, a running one through the agent."""

from __future__ import annotations

import httpx

from breeze_protocol.commands import CancelPayload
from tests.integration.agents.helpers import audit_of
from tests.integration.commands.helpers import Agent, detail, queued
from tests.support.server import LiveServer


def _cancel(api: httpx.Client, device_id: str, command_id: str) -> httpx.Response:
    return api.post(f"/api/v1/devices/{device_id}/commands/{command_id}/cancel")


def test_cancelling_a_pending_command_is_immediate(
    cmd_admin: httpx.Client, agent: Agent, cmd_server: LiveServer
) -> None:
    cmd = queued(cmd_admin, agent.device_id)
    r = _cancel(cmd_admin, agent.device_id, cmd["id"])
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert agent.heartbeat() == []
    again = _cancel(cmd_admin, agent.device_id, cmd["id"])
    assert again.status_code == 409
    actions = [a.action for a in audit_of(cmd_server, agent.device_id)]
    assert actions.count("device.command.cancel") == 1


def test_cancelling_a_running_command_tells_the_agent(
    cmd_admin: httpx.Client, agent: Agent
) -> None:
    cmd = queued(cmd_admin, agent.device_id, timeout_seconds=120)
    agent.heartbeat()
    agent.ack(cmd["id"])
    r = _cancel(cmd_admin, agent.device_id, cmd["id"])
    assert r.status_code == 200
    assert r.json()["status"] == "running" and r.json()["cancel_requested_at"]
    [cancel] = agent.heartbeat()
    assert cancel.type == "cancel" and cancel.id != cmd["id"]
    assert CancelPayload.model_validate(cancel.payload).command_id == cmd["id"]
    assert agent.heartbeat() == [cancel]  # repeated, identically, until the agent reports
    assert _cancel(cmd_admin, agent.device_id, cmd["id"]).status_code == 200  # harmless
    agent.result(cmd["id"], "cancelled", error="cancelled by the server")
    assert detail(cmd_admin, agent.device_id, cmd["id"])["status"] == "cancelled"
    assert agent.heartbeat() == []
