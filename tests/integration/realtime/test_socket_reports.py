"""Acks and results sent as raw WebSocket frames to one real server (SQLite or
PostgreSQL): many sockets reporting at the same moment are all stored (in batches) and
each report gets its receipt after the commit; junk gets a 422 receipt, another device's
command a 404, and neither costs the socket or the reports around it."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection

from tests.factories import Tenant, ok
from tests.integration.realtime.conftest import (
    Agent,
    command_frame,
    enroll_agent_with_key,
    open_socket,
    queue_command,
    script_body,
)
from tests.support.server import LiveServer

RECEIPT_WITHIN = 10.0  # seconds; only absorbs a busy test machine


async def receipts(ws: ClientConnection, count: int) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    async with asyncio.timeout(RECEIPT_WITHIN):
        while len(got) < count:
            frame = json.loads(await ws.recv())
            if frame["type"] == "receipt":
                got.append(frame)
    return got


def ack(command_id: str) -> str:
    return json.dumps({"type": "ack", "command_id": command_id, "ack": {"status": "running"}})


def result(command_id: str, stdout: str) -> str:
    body = {"status": "completed", "exit_code": 0, "stdout": stdout, "duration_ms": 5}
    return json.dumps({"type": "result", "command_id": command_id, "result": body})


async def run_one(ws: ClientConnection, agent: Agent) -> str:
    """What an agent does with the command pushed to it: ack, wait, result, wait."""
    frame = command_frame(await asyncio.wait_for(ws.recv(), RECEIPT_WITHIN))
    command_id = str(frame["command"]["id"])
    await ws.send(ack(command_id))
    (acked,) = await receipts(ws, 1)
    assert acked == {
        "type": "receipt",
        "kind": "ack",
        "command_id": command_id,
        "status": 204,
        "error": None,
    }
    await ws.send(result(command_id, f"from {agent.agent_id}\n"))
    (stored,) = await receipts(ws, 1)
    assert (stored["kind"], stored["command_id"], stored["status"]) == ("result", command_id, 204)
    return command_id


async def test_reports_of_many_sockets_at_once_are_all_stored(
    server: LiveServer, admin: httpx.Client, tenant: Tenant
) -> None:
    key = ok(
        await asyncio.to_thread(
            admin.post,
            "/api/v1/enrollment-keys",
            json={"name": "reports", "org_id": tenant.org["id"]},
        ),
        201,
    )["key"]
    agents = [await asyncio.to_thread(enroll_agent_with_key, server.url, key) for _ in range(25)]
    sockets = [await open_socket(server.url, agent) for agent in agents]
    try:
        for agent in agents:
            await asyncio.to_thread(queue_command, admin, agent.device_id, **script_body())
        command_ids = await asyncio.gather(
            *(run_one(ws, agent) for ws, agent in zip(sockets, agents, strict=True))
        )
    finally:
        for ws in sockets:
            await ws.close()
    for agent, command_id in zip(agents, command_ids, strict=True):
        path = f"/api/v1/devices/{agent.device_id}/commands/{command_id}"
        stored = ok(await asyncio.to_thread(admin.get, path))
        assert stored["status"] == "completed"
        assert stored["stdout"] == f"from {agent.agent_id}\n"
        assert stored["started_at"] is not None and stored["completed_at"] is not None


async def test_refused_reports_are_answered_and_the_others_still_stored(
    server: LiveServer, admin: httpx.Client, tenant: Tenant
) -> None:
    key = ok(
        await asyncio.to_thread(
            admin.post,
            "/api/v1/enrollment-keys",
            json={"name": "refusals", "org_id": tenant.org["id"]},
        ),
        201,
    )["key"]
    agent = await asyncio.to_thread(enroll_agent_with_key, server.url, key)
    other = await asyncio.to_thread(enroll_agent_with_key, server.url, key)
    foreign = await asyncio.to_thread(queue_command, admin, other.device_id, **script_body())
    own = await asyncio.to_thread(queue_command, admin, agent.device_id, **script_body())
    async with await open_socket(server.url, agent) as ws:
        command_frame(await asyncio.wait_for(ws.recv(), RECEIPT_WITHIN))
        # In one burst: junk, another device's command, a result without its fields, and
        # this device's real ack and result. Each gets its own receipt.
        await ws.send(json.dumps({"type": "ack", "command_id": "not-a-uuid"}))
        await ws.send(ack(foreign["id"]))
        await ws.send(json.dumps({"type": "result", "command_id": own["id"], "result": {}}))
        await ws.send(ack(own["id"]))
        await ws.send(result(own["id"], "mine\n"))
        got = await receipts(ws, 5)
    by_key = {(r["kind"], r["command_id"]): r for r in got}
    assert by_key[("ack", "not-a-uuid")]["status"] == 422
    assert by_key[("ack", foreign["id"])]["status"] == 404
    assert by_key[("ack", foreign["id"])]["error"] == "Command not found"
    own_results = [r for r in got if r["kind"] == "result"]
    assert sorted(r["status"] for r in own_results) == [204, 422]
    assert "status" in next(r for r in own_results if r["status"] == 422)["error"]
    assert by_key[("ack", own["id"])]["status"] == 204

    mine = ok(
        await asyncio.to_thread(
            admin.get, f"/api/v1/devices/{agent.device_id}/commands/{own['id']}"
        )
    )
    assert (mine["status"], mine["stdout"]) == ("completed", "mine\n")
    theirs = ok(
        await asyncio.to_thread(
            admin.get, f"/api/v1/devices/{other.device_id}/commands/{foreign['id']}"
        )
    )
    assert theirs["status"] == "pending"
