"""The agent WebSocket against one real server (SQLite or PostgreSQL): the handshake
refuses bad tokens with 4401, commands are pushed the moment they are queued and those
waiting at connect go out at once, a newer connection replaces the older one, a
decommission closes the socket, output frames are stored, and junk never kills a socket."""

from __future__ import annotations

import asyncio
import contextlib
import json

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from breeze_protocol.commands import CommandEnvelope
from breeze_protocol.signing import verify_envelope
from tests.factories import Tenant, ok
from tests.integration.agents.helpers import beat
from tests.integration.realtime.conftest import (
    Agent,
    command_frame,
    enroll_agent,
    enroll_agent_with_key,
    gauge,
    queue_command,
    script_body,
    ws_url,
)
from tests.integration.realtime.conftest import (
    open_socket as open_agent_socket,
)
from tests.support.server import LiveServer

PUSH_WITHIN = 2.0  # seconds; the push is immediate, this only absorbs a busy test machine


async def open_socket(
    server: LiveServer, agent: Agent, token: str | None = None, *, hello: bool = True
) -> ClientConnection:
    return await open_agent_socket(server.url, agent, token, hello=hello)


async def closed_with(ws: ClientConnection, within: float = 5.0) -> tuple[int | None, str]:
    """Read until the server closes; its close code and reason."""
    try:
        async with asyncio.timeout(within):
            async for _ in ws:
                pass
    except ConnectionClosed:
        pass
    return ws.close_code, ws.close_reason or ""


async def test_bad_token_is_refused_with_4401(
    server: LiveServer, admin: httpx.Client, tenant: Tenant
) -> None:
    agent = await asyncio.to_thread(enroll_agent, admin, tenant)
    other = await asyncio.to_thread(enroll_agent, admin, tenant)
    for token in ("brz_agt_not-a-real-token", "garbage", other.token):
        ws = await open_socket(server, agent, token=token, hello=False)
        code, reason = await closed_with(ws)
        assert code == 4401, (token, code, reason)
        assert "token" in reason
    # No Authorization header at all.
    ws = await connect(ws_url(server.url, agent.agent_id), open_timeout=10)
    assert (await closed_with(ws))[0] == 4401


async def test_command_is_pushed_when_queued_and_waiting_ones_on_connect(
    server: LiveServer, admin: httpx.Client, tenant: Tenant
) -> None:
    agent = await asyncio.to_thread(enroll_agent, admin, tenant)
    waiting = [await asyncio.to_thread(queue_command, admin, agent.device_id) for _ in range(2)]
    async with await open_socket(server, agent) as ws:
        # The client offers per-message deflate; the server declines it (server.ws_compression).
        assert ws.response is not None
        assert "Sec-WebSocket-Extensions" not in ws.response.headers
        got = [command_frame(await asyncio.wait_for(ws.recv(), PUSH_WITHIN)) for _ in waiting]
        assert [f["command"]["id"] for f in got] == [c["id"] for c in waiting]  # oldest first
        assert all(f["command"]["agent_id"] == agent.agent_id for f in got)

        queued = await asyncio.to_thread(queue_command, admin, agent.device_id, **script_body())
        frame = command_frame(await asyncio.wait_for(ws.recv(), PUSH_WITHIN))
        assert frame["command"]["id"] == queued["id"]
        assert frame["command"]["type"] == "script"
        assert frame["command"]["payload"]["content"] == "echo hi"
        open_sockets = await asyncio.to_thread(gauge, server.url, "breeze_agent_websockets")
        assert open_sockets >= 1

    path = f"/api/v1/devices/{agent.device_id}/commands/{queued['id']}"
    detail = ok(await asyncio.to_thread(admin.get, path))
    assert detail["status"] == "sent"


async def test_a_broadcast_reaches_every_connected_agent_exactly_once(
    server: LiveServer, admin: httpx.Client, tenant: Tenant
) -> None:
    """One execute on many devices: the commands of agents with a socket here are written
    ``sent`` and handed to their sockets after the commit (no claim), every socket gets
    its own command once, signed for its own agent by the server's key; the device
    without a socket gets a pending command, handed out at its heartbeat."""
    key = ok(
        await asyncio.to_thread(
            admin.post,
            "/api/v1/enrollment-keys",
            json={"name": "broadcast", "org_id": tenant.org["id"]},
        ),
        201,
    )["key"]
    agents = [await asyncio.to_thread(enroll_agent_with_key, server.url, key) for _ in range(33)]
    offline = await asyncio.to_thread(enroll_agent_with_key, server.url, key)
    public_key = agents[0].config["command_public_key"]
    sockets = [await open_socket(server, agent) for agent in agents]
    try:
        script = ok(
            await asyncio.to_thread(
                admin.post,
                "/api/v1/scripts",
                json={
                    "name": "broadcast",
                    "org_id": tenant.org["id"],
                    "language": "bash",
                    "os_types": ["linux"],
                    "content": "true",
                },
            ),
            201,
        )
        batch = ok(
            await asyncio.to_thread(
                admin.post,
                f"/api/v1/scripts/{script['id']}/execute",
                json={"device_ids": [a.device_id for a in [*agents, offline]]},
            ),
            201,
        )
        execution_of = {e["device_id"]: e["id"] for e in batch["executions"]}
        status_of = {e["device_id"]: e["status"] for e in batch["executions"]}
        assert status_of.pop(offline.device_id) == "pending"
        assert set(status_of.values()) == {"sent"}
        for agent, ws in zip(agents, sockets, strict=True):
            frame = command_frame(await asyncio.wait_for(ws.recv(), PUSH_WITHIN * 3))
            envelope = CommandEnvelope.model_validate(frame["command"])
            assert envelope.agent_id == agent.agent_id
            assert envelope.id == execution_of[agent.device_id]
            assert verify_envelope(public_key, envelope)
            with contextlib.suppress(TimeoutError):  # nothing more may come
                extra = await asyncio.wait_for(ws.recv(), 0.3)
                raise AssertionError(f"a second frame reached {agent.agent_id}: {extra!r}")
        path = f"/api/v1/script-batches/{batch['batch']['id']}"
        progress = ok(await asyncio.to_thread(admin.get, path))["progress"]
        assert (progress["pending"], progress["sent"]) == (1, len(agents))
        late = {"agent_id": offline.agent_id, "auth_token": offline.token}
        answer = ok(await asyncio.to_thread(beat, server.url, late))
        assert [c["id"] for c in answer["commands"]] == [execution_of[offline.device_id]]
        assert verify_envelope(public_key, CommandEnvelope.model_validate(answer["commands"][0]))
        progress = ok(await asyncio.to_thread(admin.get, path))["progress"]
        assert (progress["pending"], progress["sent"]) == (0, len(agents) + 1)
    finally:
        for ws in sockets:
            await ws.close()


async def test_newer_connection_replaces_older(
    server: LiveServer, admin: httpx.Client, tenant: Tenant
) -> None:
    agent = await asyncio.to_thread(enroll_agent, admin, tenant)
    first = await open_socket(server, agent)
    async with await open_socket(server, agent) as second:
        code, reason = await closed_with(first)
        assert (code, reason) == (4000, "replaced by a newer connection")
        queued = await asyncio.to_thread(queue_command, admin, agent.device_id)
        frame = command_frame(await asyncio.wait_for(second.recv(), PUSH_WITHIN))
        assert frame["command"]["id"] == queued["id"]


async def test_decommission_closes_the_socket(
    server: LiveServer, admin: httpx.Client, tenant: Tenant
) -> None:
    agent = await asyncio.to_thread(enroll_agent, admin, tenant)
    ws = await open_socket(server, agent)
    await ws.send(json.dumps({"type": "hello"}))  # the socket is up and past registration
    await asyncio.sleep(0.2)
    r = await asyncio.to_thread(admin.delete, f"/api/v1/devices/{agent.device_id}")
    assert r.status_code == 204, r.text
    code, reason = await closed_with(ws)
    assert code == 4401 and "decommissioned" in reason
    # And the token no longer opens one.
    assert (await closed_with(await open_socket(server, agent, hello=False)))[0] == 4401


async def test_output_frames_are_stored_and_junk_is_ignored(
    server: LiveServer, admin: httpx.Client, tenant: Tenant
) -> None:
    agent = await asyncio.to_thread(enroll_agent, admin, tenant)
    queued = await asyncio.to_thread(queue_command, admin, agent.device_id, **script_body())
    path = f"/api/v1/devices/{agent.device_id}/commands/{queued['id']}"
    async with await open_socket(server, agent) as ws:
        command_frame(await asyncio.wait_for(ws.recv(), PUSH_WITHIN))
        for junk in ("not json", "[1,2]", '{"type": "output", "chunks": "nope"}', b"\x00\x01"):
            await ws.send(junk)
        chunks = [
            {"command_id": queued["id"], "seq": 0, "stream": "stdout", "data": "hello "},
            {"command_id": queued["id"], "seq": 1, "stream": "stderr", "data": "oops"},
        ]
        await ws.send(json.dumps({"type": "output", "chunks": chunks}))
        await ws.send(json.dumps({"type": "output", "chunks": chunks[:1]}))  # a repeat

        async def stored() -> list[dict[str, object]]:
            while True:
                output = ok(await asyncio.to_thread(admin.get, path))["output"]
                if len(output) >= 2:
                    return list(output)
                await asyncio.sleep(0.1)

        output = await asyncio.wait_for(stored(), 10)
        assert [(c["seq"], c["stream"], c["data"]) for c in output] == [
            (0, "stdout", "hello "),
            (1, "stderr", "oops"),
        ]
        # Still open and serving after all that.
        queued2 = await asyncio.to_thread(queue_command, admin, agent.device_id)
        frame = command_frame(await asyncio.wait_for(ws.recv(), PUSH_WITHIN))
        assert frame["command"]["id"] == queued2["id"]
