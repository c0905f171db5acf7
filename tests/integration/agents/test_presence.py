"""Offline detection: a silent device goes offline, a heartbeat brings it back, and both
transitions are published once on the event bus (Redis here, as in scale-out)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import update

from breeze.core.bus import CHANNEL_PREFIX
from breeze.db.base import utcnow
from breeze.devices.models import Device
from tests.factories import make_tenant, ok
from tests.integration.agents.helpers import (
    agent_headers,
    beat_body,
    device_status,
    enroll_body,
    make_enrollment_key,
    query,
)
from tests.support.server import ADMIN_EMAIL, ADMIN_PASSWORD, LiveServer

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="module")
def presence_server(server_factory: Any) -> LiveServer:
    return server_factory(  # type: ignore[no-any-return]
        BREEZE_REDIS_URL=REDIS_URL,
        BREEZE_AGENTS__PRESENCE_SWEEP_SECONDS="0.5",
        BREEZE_AGENTS__HEARTBEAT_INTERVAL_SECONDS="5",
        BREEZE_AGENTS__OFFLINE_AFTER_MISSED="1",
    )


class Events:
    """device.offline / device.online events seen on Redis since subscribing."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any]]] = []

    def of(self, topic: str, device_id: str) -> list[dict[str, Any]]:
        return [e for t, e in self.seen if t == topic and e["device_id"] == device_id]

    async def wait_for(self, topic: str, device_id: str, within: float = 20) -> dict[str, Any]:
        deadline = time.monotonic() + within
        while not self.of(topic, device_id):
            assert time.monotonic() < deadline, f"no {topic} event for {device_id}: {self.seen}"
            await asyncio.sleep(0.1)
        return self.of(topic, device_id)[0]


@pytest.fixture
async def events() -> AsyncIterator[Events]:
    redis = Redis.from_url(REDIS_URL)
    pubsub = redis.pubsub()
    await pubsub.subscribe(CHANNEL_PREFIX + "device.offline", CHANNEL_PREFIX + "device.online")
    found = Events()

    async def pump() -> None:
        async for message in pubsub.listen():
            if message.get("type") == "message":
                topic = message["channel"].decode().removeprefix(CHANNEL_PREFIX)
                found.seen.append((topic, json.loads(message["data"])))

    task = asyncio.create_task(pump())
    try:
        yield found
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await pubsub.aclose()  # type: ignore[no-untyped-call]
        await redis.aclose()


async def _login(c: httpx.AsyncClient) -> None:
    r = await c.post("/api/v1/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    c.headers["Authorization"] = f"Bearer {ok(r)['access_token']}"


async def _wait_status(server: LiveServer, device_id: str, status: str, within: float) -> float:
    started = time.monotonic()
    while (current := await device_status(server, device_id)) != status:
        assert time.monotonic() - started < within, f"device still {current}"
        await asyncio.sleep(0.1)
    return time.monotonic() - started


async def test_a_silent_device_goes_offline_and_a_beat_brings_it_back(
    presence_server: LiveServer, events: Events
) -> None:
    server = presence_server
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as c:
        await _login(c)
        with _sync_admin(c) as admin:
            tenant = await asyncio.to_thread(make_tenant, admin)
            key = await asyncio.to_thread(make_enrollment_key, admin, tenant.org["id"])
        agent = ok(await c.post("/api/v1/agents/enroll", json=enroll_body(key["key"])))
        kept = ok(await c.post("/api/v1/agents/enroll", json=enroll_body(key["key"])))
        assert agent["config"]["heartbeat_interval_seconds"] == 5
        # A decommissioned device is never swept (its status is the console's business).
        await query(
            server,
            update(Device)
            .where(Device.id == uuid.UUID(kept["device_id"]))
            .values(decommissioned_at=utcnow()),
        )
        device_id = agent["device_id"]
        assert await device_status(server, device_id) == "online"

        waited = await _wait_status(server, device_id, "offline", within=20)
        assert waited > 2  # not before one heartbeat interval (5 s) has passed since enrolling
        offline = await events.wait_for("device.offline", device_id)
        assert offline["org_id"] == tenant.org["id"]
        assert offline["partner_id"] == tenant.partner["id"]
        assert offline["last_seen_at"]

        r = await c.post(
            f"/api/v1/agents/{agent['agent_id']}/heartbeat",
            json=beat_body(),
            headers=agent_headers(agent["auth_token"]),
        )
        ok(r)
        online = await events.wait_for("device.online", device_id, within=10)
        assert (online["org_id"], online["partner_id"]) == (tenant.org["id"], tenant.partner["id"])
        assert await device_status(server, device_id) == "online"
        await asyncio.sleep(1.5)  # more sweeps: each transition is published once
        assert len(events.of("device.offline", device_id)) == 1
        assert len(events.of("device.online", device_id)) == 1
        assert await device_status(server, kept["device_id"]) == "online"
        assert events.of("device.offline", kept["device_id"]) == []


def _sync_admin(c: httpx.AsyncClient) -> httpx.Client:
    return httpx.Client(base_url=str(c.base_url), headers=dict(c.headers), timeout=30)
