"""The sweep: expiry, re-delivery of unacknowledged commands, timeouts, late results."""

from __future__ import annotations

import httpx

from tests.integration.agents.helpers import audit_of
from tests.integration.commands.helpers import Agent, detail, eventually, queued
from tests.support.server import LiveServer


def test_a_command_the_device_never_takes_expires(cmd_admin: httpx.Client, agent: Agent) -> None:
    cmd = queued(cmd_admin, agent.device_id, "collect_inventory", expires_in_seconds=5)

    def expired() -> dict[str, object] | None:
        d = detail(cmd_admin, agent.device_id, cmd["id"])
        return d if d["status"] == "timeout" else None

    done = eventually(expired, timeout=15)
    assert str(done["error"]).startswith("expired: the device did not come back before")
    assert agent.heartbeat() == []  # never handed out once expired


def test_an_unacknowledged_command_is_handed_out_again_identically(
    cmd_admin: httpx.Client, agent: Agent
) -> None:
    cmd = queued(cmd_admin, agent.device_id, "collect_inventory")
    [first] = agent.heartbeat()
    assert agent.heartbeat() == []

    def again() -> list[object]:
        return agent.heartbeat()  # type: ignore[return-value]

    [second] = eventually(again, timeout=10, interval=0.3)
    assert second == first  # same nonce, same issued time, same signature
    d = detail(cmd_admin, agent.device_id, cmd["id"])
    assert d["status"] == "sent" and d["delivery_count"] == 2


def test_a_running_command_times_out_and_its_late_result_is_kept(
    cmd_admin: httpx.Client, agent: Agent, cmd_server: LiveServer
) -> None:
    cmd = queued(cmd_admin, agent.device_id, timeout_seconds=1)
    agent.heartbeat()
    agent.ack(cmd["id"])

    def timed_out() -> dict[str, object] | None:
        d = detail(cmd_admin, agent.device_id, cmd["id"])
        return d if d["status"] == "timeout" else None

    swept = eventually(timed_out, timeout=15)
    assert "no result within the timeout" in str(swept["error"])
    assert agent.result(cmd["id"], exit_code=0, stdout="finally\n").status_code == 204
    late = detail(cmd_admin, agent.device_id, cmd["id"])
    assert late["status"] == "completed" and late["result_late"] and late["stdout"] == "finally\n"
    # Only the first late result counts.
    assert agent.result(cmd["id"], "failed").status_code == 204
    assert detail(cmd_admin, agent.device_id, cmd["id"])["status"] == "completed"
    actions = [a.action for a in audit_of(cmd_server, agent.device_id)]
    assert actions.count("device.command.result_late") == 1
