"""breeze_agent.ws.AgentSocket against a real Breeze server on loopback: commands arrive
through on_command, a server restart is survived by reconnecting with backoff (without
spinning), a refused token stops it for good (``revoked``), and BREEZE_AGENT_WEBSOCKET=0
turns it off."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from breeze_agent.ws import AgentSocket
from breeze_protocol.commands import CommandEnvelope, OutputChunk
from tests.factories import login, make_tenant, ok
from tests.integration.agents.helpers import enroll, make_enrollment_key
from tests.support.server import ADMIN_EMAIL, ADMIN_PASSWORD, LiveServer


@pytest.fixture(scope="module")
def own_server(server_factory: Callable[..., LiveServer]) -> LiveServer:
    """A server of this module alone: the test restarts it."""
    return server_factory()


@pytest.fixture(scope="module")
def own_admin(own_server: LiveServer) -> Iterator[httpx.Client]:
    c = login(own_server.url, ADMIN_EMAIL, ADMIN_PASSWORD)
    yield c
    c.close()


def enrolled(admin: httpx.Client) -> dict[str, Any]:
    tenant = make_tenant(admin)
    key = make_enrollment_key(admin, tenant.org["id"])["key"]
    return dict(ok(enroll(str(admin.base_url), key)))


def queue(admin: httpx.Client, device_id: str) -> str:
    body = {"type": "collect_inventory"}
    return str(ok(admin.post(f"/api/v1/devices/{device_id}/commands", json=body), 201)["id"])


async def wait_until(probe: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not probe():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(0.05)


async def test_reconnects_with_backoff_after_the_server_restarts(
    own_server: LiveServer, own_admin: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    agent = await asyncio.to_thread(enrolled, own_admin)
    received: list[CommandEnvelope] = []

    async def on_command(envelope: CommandEnvelope) -> None:
        received.append(envelope)

    sock = AgentSocket(
        own_server.url,
        agent["agent_id"],
        agent["auth_token"],
        on_command=on_command,
        backoff_base=0.1,
        backoff_cap=0.8,
    )
    stopping = asyncio.Event()
    runner = asyncio.create_task(sock.run(stopping))
    try:
        await wait_until(lambda: sock.connected, 10, "the first connection")
        first = await asyncio.to_thread(queue, own_admin, agent["device_id"])
        await wait_until(lambda: len(received) == 1, 5, "the pushed command")
        assert received[0].id == first and received[0].agent_id == agent["agent_id"]

        caplog.set_level(logging.INFO, logger="breeze_agent.ws")
        await asyncio.to_thread(own_server.stop)
        await wait_until(lambda: not sock.connected, 10, "the disconnect")
        assert not await sock.send_output(
            [OutputChunk(command_id=first, seq=0, stream="stdout", data="x")]
        )
        await asyncio.sleep(2.0)  # the server stays down for a while
        retries = sum("retrying" in r.getMessage() for r in caplog.records)
        # Backoff: several attempts in 2 s with a 0.8 s cap, but no spinning.
        assert 2 <= retries <= 40, retries

        await asyncio.to_thread(own_server.start)
        await wait_until(lambda: sock.connected and sock.connections == 2, 10, "the reconnect")
        second = await asyncio.to_thread(queue, own_admin, agent["device_id"])
        await wait_until(lambda: len(received) == 2, 5, "a command after the restart")
        assert received[1].id == second
        assert await sock.send_output(
            [OutputChunk(command_id=second, seq=0, stream="stdout", data="after restart")]
        )
    finally:
        stopping.set()
        await asyncio.wait_for(runner, 10)
    assert not sock.connected and not sock.revoked


async def test_a_refused_token_stops_it(own_server: LiveServer) -> None:
    async def on_command(envelope: CommandEnvelope) -> None:
        raise AssertionError("no command expected")

    sock = AgentSocket(
        own_server.url, "agt_nobody", "brz_agt_wrong", on_command=on_command, backoff_base=0.1
    )
    await asyncio.wait_for(sock.run(asyncio.Event()), 10)  # returns on its own
    assert sock.revoked and not sock.connected


async def test_disabled_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BREEZE_AGENT_WEBSOCKET", "0")

    async def on_command(envelope: CommandEnvelope) -> None:
        raise AssertionError("no command expected")

    # Nothing listens there: a disabled socket must not even try.
    sock = AgentSocket("http://127.0.0.1:9", "agt_x", "brz_agt_x", on_command=on_command)
    started = time.monotonic()
    await asyncio.wait_for(sock.run(asyncio.Event()), 2)
    assert time.monotonic() - started < 1
    assert not sock.connected and sock.connections == 0
    assert not await sock.send_output([])


def test_url_follows_the_server_scheme() -> None:
    async def on_command(envelope: CommandEnvelope) -> None:
        return None

    plain = AgentSocket("http://127.0.0.1:8000/api/v1", "agt_1", "t", on_command=on_command)
    assert plain.url == "ws://127.0.0.1:8000/ws/agents/agt_1"
    tls = AgentSocket("https://rmm.example.com/breeze/", "agt_1", "t", on_command=on_command)
    assert tls.url == "wss://rmm.example.com/breeze/ws/agents/agt_1"
