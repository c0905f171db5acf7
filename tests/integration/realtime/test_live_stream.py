"""Server-sent events of a command for the browser: the stored state first, then live
output and status from the bus, ending after the final status; tenancy checked once."""

from __future__ import annotations

import asyncio
import json
import queue
import threading
import time
from typing import Any

import httpx

from tests.factories import Tenant, make_member, make_tenant, ok
from tests.integration.realtime.conftest import (
    Agent,
    command_frame,
    enroll_agent,
    gauge,
    open_socket,
    queue_command,
    report,
    script_body,
    sse_events,
)
from tests.support.mailbox import Mailbox
from tests.support.server import LiveServer


class Stream:
    """A server-sent event stream read on a thread; events land in a queue."""

    def __init__(self, api: httpx.Client, path: str) -> None:
        self.events: queue.Queue[tuple[str, dict[str, Any]] | None] = queue.Queue()
        self.status: int | None = None
        self.content_type = ""
        self._thread = threading.Thread(target=self._read, args=(api, path), daemon=True)
        self._thread.start()

    def _read(self, api: httpx.Client, path: str) -> None:
        try:
            with api.stream("GET", path, timeout=30) as r:
                self.status = r.status_code
                self.content_type = r.headers.get("content-type", "")
                if r.status_code == 200:
                    for item in sse_events(r):
                        self.events.put(item)
        finally:
            self.events.put(None)  # end of stream

    async def next(self, within: float = 10.0) -> tuple[str, dict[str, Any]] | None:
        return await asyncio.to_thread(self.events.get, True, within)

    async def until(self, event: str, within: float = 10.0, **match: Any) -> dict[str, Any]:
        deadline = time.monotonic() + within
        while True:
            item = await self.next(max(0.1, deadline - time.monotonic()))
            assert item is not None, f"stream ended before {event} {match}"
            if item[0] == event and all(item[1].get(k) == v for k, v in match.items()):
                return item[1]

    def join(self, timeout: float = 10.0) -> None:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the stream did not end"


def run_script(admin: httpx.Client, tenant: Tenant, device_ids: list[str]) -> dict[str, Any]:
    """A new library script of the tenant's organization, executed on the devices."""
    body = {
        "name": "stream test",
        "os_types": ["linux"],
        "language": "bash",
        "content": "echo hi",
        "org_id": tenant.org["id"],
    }
    script = ok(admin.post("/api/v1/scripts", json=body), 201)
    execute = {"device_ids": device_ids}
    launched: dict[str, Any] = ok(
        admin.post(f"/api/v1/scripts/{script['id']}/execute", json=execute), 201
    )
    return launched


def stream_path(agent: Agent, command_id: str) -> str:
    return f"/api/v1/devices/{agent.device_id}/commands/{command_id}/stream"


async def test_command_stream_carries_output_and_ends_after_final_status(
    server: LiveServer, admin: httpx.Client, tenant: Tenant
) -> None:
    agent = await asyncio.to_thread(enroll_agent, admin, tenant)
    cmd = await asyncio.to_thread(queue_command, admin, agent.device_id, **script_body())
    async with await open_socket(server.url, agent) as ws:
        command_frame(await asyncio.wait_for(ws.recv(), 5))  # now "sent"
        early = {"command_id": cmd["id"], "seq": 0, "stream": "stdout", "data": "early\n"}
        await ws.send(json.dumps({"type": "output", "chunks": [early]}))
        await asyncio.to_thread(report, server.url, agent, cmd["id"], "ack", {"status": "running"})

        path = f"/api/v1/devices/{agent.device_id}/commands/{cmd['id']}"
        for _ in range(200):  # stored through the socket (asynchronously)
            if ok(await asyncio.to_thread(admin.get, path))["output"]:
                break
            await asyncio.sleep(0.05)

        stream = Stream(admin, stream_path(agent, cmd["id"]))
        first = await stream.next()
        assert stream.status == 200 and stream.content_type.startswith("text/event-stream")
        assert first is not None and first[0] == "status"
        assert first[1]["status"] == "running" and first[1]["final"] is False
        stored_chunk = await stream.until("output")
        assert (stored_chunk["seq"], stored_chunk["data"]) == (0, "early\n")

        live = [
            {"command_id": cmd["id"], "seq": 1, "stream": "stdout", "data": "live\n"},
            {"command_id": cmd["id"], "seq": 2, "stream": "stderr", "data": "warn\n"},
        ]
        await ws.send(json.dumps({"type": "output", "chunks": [live[0], early]}))  # early: repeat
        await ws.send(json.dumps({"type": "output", "chunks": [live[1]]}))
        one = await stream.until("output")
        two = await stream.until("output")
        assert [(c["seq"], c["stream"], c["data"]) for c in (one, two)] == [
            (1, "stdout", "live\n"),
            (2, "stderr", "warn\n"),
        ]

        result = {
            "status": "completed",
            "exit_code": 0,
            "stdout": "early\nlive\n",
            "stderr": "warn\n",
        }
        await asyncio.to_thread(report, server.url, agent, cmd["id"], "result", result)
        final = await stream.until("status", status="completed")
        assert final["final"] is True and final["exit_code"] == 0
        assert final["stdout"] == "early\nlive\n"
        assert await stream.next() is None  # the stream ended after the final status
        stream.join()


async def test_stream_of_a_final_command_sends_its_status_and_ends(
    server: LiveServer, admin: httpx.Client, tenant: Tenant
) -> None:
    agent = await asyncio.to_thread(enroll_agent, admin, tenant)
    cmd = await asyncio.to_thread(queue_command, admin, agent.device_id)
    cancel = f"/api/v1/devices/{agent.device_id}/commands/{cmd['id']}/cancel"
    cancelled = ok(await asyncio.to_thread(admin.post, cancel))
    assert cancelled["status"] == "cancelled"
    stream = Stream(admin, stream_path(agent, cmd["id"]))
    event = await stream.next()
    assert event is not None and event[0] == "status"
    assert event[1]["status"] == "cancelled" and event[1]["final"] is True
    assert await stream.next() is None
    stream.join()


async def test_pending_to_cancelled_is_streamed_live(
    server: LiveServer, admin: httpx.Client, tenant: Tenant
) -> None:
    agent = await asyncio.to_thread(enroll_agent, admin, tenant)
    cmd = await asyncio.to_thread(queue_command, admin, agent.device_id)
    stream = Stream(admin, stream_path(agent, cmd["id"]))
    first = await stream.next()
    assert first is not None and first[1]["status"] == "pending"
    await asyncio.to_thread(
        admin.post, f"/api/v1/devices/{agent.device_id}/commands/{cmd['id']}/cancel"
    )
    final = await stream.until("status", within=3)  # live, not the 5 s re-check
    assert final["status"] == "cancelled" and final["final"] is True
    assert await stream.next() is None


def test_stream_of_another_tenants_command_is_404(
    server: LiveServer, admin: httpx.Client, tenant: Tenant, mailbox: Mailbox
) -> None:
    agent = enroll_agent(admin, tenant)
    cmd = queue_command(admin, agent.device_id)
    other = make_tenant(admin)
    outsider = make_member(admin, mailbox, role="Partner Admin", partner_id=other.partner["id"])
    r = outsider.get(stream_path(agent, cmd["id"]))
    assert r.status_code == 404, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    # The right command under the wrong device is 404 too, even for its own tenant.
    other_agent = enroll_agent(admin, tenant)
    r = admin.get(f"/api/v1/devices/{other_agent.device_id}/commands/{cmd['id']}/stream")
    assert r.status_code == 404
    outsider.close()


async def test_batch_stream_reports_progress_until_every_execution_is_final(
    server: LiveServer, admin: httpx.Client, tenant: Tenant
) -> None:
    one = await asyncio.to_thread(enroll_agent, admin, tenant)
    two = await asyncio.to_thread(enroll_agent, admin, tenant)
    launched = await asyncio.to_thread(run_script, admin, tenant, [one.device_id, two.device_id])
    batch_id = launched["batch"]["id"]
    runs = {e["device_id"]: e["id"] for e in launched["executions"]}
    stream = Stream(admin, f"/api/v1/script-batches/{batch_id}/stream")
    first = await stream.until("progress")
    assert first["total"] == 2 and first["counts"] == {"pending": 2} and not first["done"]

    run_one = runs[one.device_id]
    await asyncio.to_thread(report, server.url, one, run_one, "ack", {"status": "running"})
    assert (await stream.until("status", command_id=run_one))["status"] == "running"
    result = {"status": "completed", "exit_code": 0, "stdout": "hi\n"}
    await asyncio.to_thread(report, server.url, one, run_one, "result", result)
    await stream.until("status", command_id=run_one, status="completed")
    progress = await stream.until("progress")
    assert not progress["done"]

    await asyncio.to_thread(admin.post, f"/api/v1/script-executions/{runs[two.device_id]}/cancel")
    last = await stream.until("progress", done=True)
    assert last["counts"] == {"completed": 1, "cancelled": 1} and last["finished"] == 2
    assert await stream.next() is None
    stream.join()


def test_batch_stream_of_another_tenant_is_404(
    server: LiveServer, admin: httpx.Client, tenant: Tenant, mailbox: Mailbox
) -> None:
    agent = enroll_agent(admin, tenant)
    launched = run_script(admin, tenant, [agent.device_id])
    other = make_tenant(admin)
    outsider = make_member(admin, mailbox, role="Partner Admin", partner_id=other.partner["id"])
    r = outsider.get(f"/api/v1/script-batches/{launched['batch']['id']}/stream")
    assert r.status_code == 404, r.text
    outsider.close()


async def test_a_closed_browser_ends_its_stream(
    server: LiveServer, admin: httpx.Client, tenant: Tenant
) -> None:
    agent = await asyncio.to_thread(enroll_agent, admin, tenant)
    cmd = await asyncio.to_thread(queue_command, admin, agent.device_id)
    before = await asyncio.to_thread(gauge, server.url, "breeze_live_streams")
    async with (
        httpx.AsyncClient(base_url=server.url, headers=dict(admin.headers), timeout=10) as c,
        c.stream("GET", stream_path(agent, cmd["id"])) as r,
    ):
        lines = r.aiter_lines()
        assert await anext(lines) == "event: status"
        assert await asyncio.to_thread(gauge, server.url, "breeze_live_streams") == before + 1
    # Closed by the client: the server notices at once, not at the next keep-alive.
    for _ in range(40):
        if await asyncio.to_thread(gauge, server.url, "breeze_live_streams") == before:
            break
        await asyncio.sleep(0.05)
    assert await asyncio.to_thread(gauge, server.url, "breeze_live_streams") == before
