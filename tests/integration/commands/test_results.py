"""What the agent reports: ack, streamed output, the final result (idempotent), secrets."""

from __future__ import annotations

import time
import uuid

import httpx

from tests.factories import Tenant, ok
from tests.integration.agents.helpers import audit_of
from tests.integration.commands.helpers import (
    Agent,
    detail,
    enrolled,
    queued,
    stored,
)
from tests.support.server import LiveServer


def test_ack_output_and_result_make_the_history(cmd_admin: httpx.Client, agent: Agent) -> None:
    cmd = queued(cmd_admin, agent.device_id, timeout_seconds=60)
    agent.heartbeat()
    assert agent.ack(cmd["id"]).status_code == 204
    running = detail(cmd_admin, agent.device_id, cmd["id"])
    assert running["status"] == "running" and running["started_at"] and running["deadline_at"]
    assert agent.output(cmd["id"], (0, "stdout", "hel"), (1, "stdout", "lo\n")).status_code == 204
    # A repeat of a chunk (same seq) is ignored; a stderr chunk is kept in order.
    assert (
        agent.output(cmd["id"], (1, "stdout", "lo\n"), (2, "stderr", "warn\n")).status_code == 204
    )
    live = detail(cmd_admin, agent.device_id, cmd["id"])
    assert [(c["seq"], c["stream"], c["data"]) for c in live["output"]] == [
        (0, "stdout", "hel"),
        (1, "stdout", "lo\n"),
        (2, "stderr", "warn\n"),
    ]
    r = agent.result(cmd["id"], exit_code=0, stdout="hello\n", stderr="warn\n", duration_ms=12)
    assert r.status_code == 204
    done = detail(cmd_admin, agent.device_id, cmd["id"])
    assert done["status"] == "completed" and done["exit_code"] == 0
    assert done["stdout"] == "hello\n" and done["stderr"] == "warn\n"
    assert done["duration_ms"] == 12 and done["completed_at"] and done["output"] == []
    assert not done["result_late"]

    history = ok(cmd_admin.get(f"/api/v1/devices/{agent.device_id}/commands"))
    assert [c["id"] for c in history["items"]] == [cmd["id"]]
    failed = ok(
        cmd_admin.get(f"/api/v1/devices/{agent.device_id}/commands", params={"status": "failed"})
    )
    assert failed["total"] == 0


def test_a_repeated_result_changes_nothing(cmd_admin: httpx.Client, agent: Agent) -> None:
    cmd = queued(cmd_admin, agent.device_id, "collect_inventory")
    agent.heartbeat()
    agent.ack(cmd["id"])
    assert agent.result(cmd["id"], "failed", error="no inventory").status_code == 204
    first = detail(cmd_admin, agent.device_id, cmd["id"])
    assert agent.result(cmd["id"], "completed", stdout="other").status_code == 204
    assert agent.ack(cmd["id"]).status_code == 204  # a late ack changes nothing either
    assert detail(cmd_admin, agent.device_id, cmd["id"]) == first
    assert first["status"] == "failed" and first["error"] == "no inventory"


def test_another_devices_command_answers_404(
    cmd_admin: httpx.Client, agent: Agent, cmd_server: LiveServer, cmd_tenant: Tenant
) -> None:
    other = enrolled(cmd_admin, cmd_server, cmd_tenant)
    cmd = queued(cmd_admin, agent.device_id, "collect_inventory")
    assert other.ack(cmd["id"]).status_code == 404
    assert other.output(cmd["id"], (0, "stdout", "x")).status_code == 404
    assert other.result(cmd["id"]).status_code == 404
    assert agent.result(str(uuid.uuid4())).status_code == 404
    assert detail(cmd_admin, agent.device_id, cmd["id"])["status"] == "pending"


def test_secret_values_never_show_and_are_erased_once_final(
    cmd_admin: httpx.Client, agent: Agent, cmd_server: LiveServer
) -> None:
    secret = "hunter2-" + uuid.uuid4().hex
    cmd = queued(
        cmd_admin,
        agent.device_id,
        payload={
            "language": "bash",
            "content": 'echo "$TOKEN"',
            "env": {"TOKEN": secret, "PLAIN": "visible"},
        },
        secret_names=["TOKEN"],
    )
    assert cmd["payload"]["env"] == {"TOKEN": "********", "PLAIN": "visible"}
    [env] = agent.heartbeat()
    assert env.payload["env"]["TOKEN"] == secret  # the agent needs the real value
    agent.ack(cmd["id"])
    agent.output(cmd["id"], (0, "stdout", f"token={secret}\n"))
    live = detail(cmd_admin, agent.device_id, cmd["id"])
    assert live["output"][0]["data"] == "token=********\n"
    assert secret not in str(live)
    agent.result(cmd["id"], stdout=f"{secret}\n", stderr=f"x{secret}x", error=f"e {secret}")
    done = detail(cmd_admin, agent.device_id, cmd["id"])
    assert (done["stdout"], done["stderr"], done["error"]) == (
        "********\n",
        "x********x",
        "e ********",
    )
    row = stored(cmd_server, cmd["id"])
    assert row.payload["env"] == {"TOKEN": "********", "PLAIN": "visible"}
    assert secret not in str(audit_of(cmd_server, agent.device_id))


def _pending_reboot(api: httpx.Client, device_id: str) -> bool:
    return bool(ok(api.get(f"/api/v1/devices/{device_id}"))["pending_reboot"])


def test_pending_reboot_is_set_by_the_ack_and_cleared_by_the_result(
    cmd_admin: httpx.Client, agent: Agent
) -> None:
    cmd = queued(cmd_admin, agent.device_id, "reboot")
    agent.heartbeat()
    time.sleep(0.5)  # the beat's own pending_reboot=false is flushed before the ack
    assert agent.ack(cmd["id"], pending_reboot=True).status_code == 204
    assert _pending_reboot(cmd_admin, agent.device_id)
    agent.result(cmd["id"], rebooted=True, details={"boot_time": "now"})
    assert not _pending_reboot(cmd_admin, agent.device_id)

    script = queued(cmd_admin, agent.device_id)
    agent.heartbeat()
    time.sleep(0.5)
    agent.ack(script["id"])
    agent.result(script["id"], exit_code=194, pending_reboot=True)
    assert _pending_reboot(cmd_admin, agent.device_id)
