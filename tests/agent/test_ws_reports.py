"""Acks and results from the agent over its WebSocket, against a real server on loopback:
they are stored once the receipt comes (the server's reports counter proves they did not
go by HTTP), a refusal raises what the HTTP path raises, and without a socket (or with a
server that never said it takes reports) they are POSTed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from breeze_agent.commands import reports
from breeze_agent.transport import Gateway, Refused
from breeze_agent.ws import AgentSocket
from breeze_protocol.commands import CommandAck, CommandEnvelope, CommandResult
from tests.factories import make_tenant, ok
from tests.integration.agents.helpers import enroll, make_enrollment_key
from tests.support.server import LiveServer


def enrolled(admin: httpx.Client) -> dict[str, Any]:
    tenant = make_tenant(admin)
    key = make_enrollment_key(admin, tenant.org["id"])["key"]
    return dict(ok(enroll(str(admin.base_url), key)))


def queue_script(admin: httpx.Client, device_id: str) -> str:
    body = {"type": "script", "payload": {"language": "bash", "content": "echo hi"}}
    return str(ok(admin.post(f"/api/v1/devices/{device_id}/commands", json=body), 201)["id"])


def command(admin: httpx.Client, device_id: str, command_id: str) -> dict[str, Any]:
    return dict(ok(admin.get(f"/api/v1/devices/{device_id}/commands/{command_id}")))


def reports_counted(base_url: str, kind: str, status: int) -> float:
    """breeze_agent_ws_reports_total{kind, status} on the server's /metrics page."""
    text = httpx.get(f"{base_url}/metrics", timeout=10).text
    wanted = f'breeze_agent_ws_reports_total{{kind="{kind}",status="{status}"}} '
    for line in text.splitlines():
        if line.startswith(wanted):
            return float(line.split()[-1])
    return 0.0


async def wait_until(probe: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not probe():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(0.05)


@asynccontextmanager
async def connected(server: LiveServer, agent: dict[str, Any]) -> AsyncIterator[AgentSocket]:
    async def on_command(envelope: CommandEnvelope) -> None:
        return None

    sock = AgentSocket(server.url, agent["agent_id"], agent["auth_token"], on_command=on_command)
    stopping = asyncio.Event()
    runner = asyncio.create_task(sock.run(stopping))
    try:
        await wait_until(lambda: sock.connected and sock.takes_reports, 10, "the server's hello")
        yield sock
    finally:
        stopping.set()
        await asyncio.wait_for(runner, 10)


async def test_ack_and_result_over_the_socket_are_stored_before_the_call_returns(
    server: LiveServer, admin: httpx.Client
) -> None:
    agent = await asyncio.to_thread(enrolled, admin)
    device_id = agent["device_id"]
    command_id = await asyncio.to_thread(queue_script, admin, device_id)
    acks_before = await asyncio.to_thread(reports_counted, server.url, "ack", 204)
    results_before = await asyncio.to_thread(reports_counted, server.url, "result", 204)
    result = CommandResult(status="completed", exit_code=0, stdout="hi\n", duration_ms=12)
    async with (
        connected(server, agent) as sock,
        Gateway(server.url, token=agent["auth_token"]) as gw,
    ):
        await reports.send_ack(gw, sock, agent["agent_id"], command_id, CommandAck())
        stored = await asyncio.to_thread(command, admin, device_id, command_id)
        assert stored["status"] == "running"

        await reports.send_result(gw, sock, agent["agent_id"], command_id, result)
        stored = await asyncio.to_thread(command, admin, device_id, command_id)
        assert (stored["status"], stored["exit_code"], stored["stdout"]) == ("completed", 0, "hi\n")

        # A repeat is taken (204) and changes nothing.
        repeat = CommandResult(status="failed", exit_code=3, stdout="other")
        await reports.send_result(gw, sock, agent["agent_id"], command_id, repeat)
        again = await asyncio.to_thread(command, admin, device_id, command_id)
        assert (again["status"], again["exit_code"]) == ("completed", 0)

    acks = await asyncio.to_thread(reports_counted, server.url, "ack", 204)
    results = await asyncio.to_thread(reports_counted, server.url, "result", 204)
    assert (acks - acks_before, results - results_before) == (1, 2)


async def test_a_refusal_over_the_socket_raises_as_on_http(
    server: LiveServer, admin: httpx.Client
) -> None:
    agent = await asyncio.to_thread(enrolled, admin)
    other = await asyncio.to_thread(enrolled, admin)
    foreign = await asyncio.to_thread(queue_script, admin, other["device_id"])
    unknown = "00000000-0000-4000-8000-000000000000"
    async with (
        connected(server, agent) as sock,
        Gateway(server.url, token=agent["auth_token"]) as gw,
    ):
        for command_id in (unknown, foreign):
            with pytest.raises(Refused) as refused:
                await reports.send_ack(gw, sock, agent["agent_id"], command_id, CommandAck())
            assert refused.value.status == 404
            done = CommandResult(status="completed", exit_code=0)
            with pytest.raises(Refused) as refused:
                await reports.send_result(gw, sock, agent["agent_id"], command_id, done)
            assert refused.value.status == 404
        with pytest.raises(Refused) as refused:
            await reports.send_ack(gw, sock, agent["agent_id"], "not-a-uuid", CommandAck())
        assert refused.value.status == 422
        assert sock.connected  # refusals do not cost the socket
    untouched = await asyncio.to_thread(command, admin, other["device_id"], foreign)
    assert untouched["status"] in ("pending", "sent")


async def test_without_a_socket_or_a_hello_they_are_posted(
    server: LiveServer, admin: httpx.Client
) -> None:
    agent = await asyncio.to_thread(enrolled, admin)
    device_id = agent["device_id"]
    first, second = [await asyncio.to_thread(queue_script, admin, device_id) for _ in range(2)]
    before = await asyncio.to_thread(reports_counted, server.url, "result", 204)
    done = CommandResult(status="completed", exit_code=0, stdout="posted\n")
    async with Gateway(server.url, token=agent["auth_token"]) as gw:
        await reports.send_ack(gw, None, agent["agent_id"], first, CommandAck())
        await reports.send_result(gw, None, agent["agent_id"], first, done)
        async with connected(server, agent) as sock:
            sock.takes_reports = False  # as with a server from before reports over the socket
            await reports.send_result(gw, sock, agent["agent_id"], second, done)
    for command_id in (first, second):
        stored = await asyncio.to_thread(command, admin, device_id, command_id)
        assert (stored["status"], stored["stdout"]) == ("completed", "posted\n")
    assert await asyncio.to_thread(reports_counted, server.url, "result", 204) == before
