"""Heartbeats over HTTP: authenticated, validated, buffered, every accepted metric stored."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import httpx
from sqlalchemy import select

from breeze.devices.models import Device
from tests.factories import Tenant, login, make_tenant, ok
from tests.integration.agents.helpers import (
    agent_headers,
    beat,
    beat_body,
    enroll,
    enroll_body,
    make_enrollment_key,
    metrics,
    raw_points,
    run,
    wait_for_points,
)
from tests.integration.agents.load import Answer, Post, post_all
from tests.support.server import ADMIN_EMAIL, ADMIN_PASSWORD, LiveServer


def _enrolled(admin: httpx.Client, server: LiveServer, org_id: str) -> dict[str, Any]:
    key = make_enrollment_key(admin, org_id)
    return ok(enroll(server.url, key["key"]))  # type: ignore[no-any-return]


def _device(server: LiveServer, device_id: str) -> Any:
    [row] = run(
        server, select(Device.__table__).where(Device.__table__.c.id == uuid.UUID(device_id))
    )
    return row


def test_a_heartbeat_updates_the_device_and_stores_its_metrics(
    admin: httpx.Client, tenant: Tenant, server: LiveServer
) -> None:
    agent = _enrolled(admin, server, tenant.org["id"])
    enrolled_seen = _device(server, agent["device_id"]).last_seen_at
    sample = metrics(cpu_percent=77.5, process_count=321, custom={"queue": 4, "role": "db"})
    r = beat(
        server.url,
        agent,
        metrics=sample,
        agent_version="0.1.1",
        last_user="bob",
        uptime_seconds=99,
        pending_reboot=True,
    )
    answer = ok(r)
    assert (
        answer["config_update"].pop("command_public_key") == agent["config"]["command_public_key"]
    )
    assert answer == {
        "commands": [],
        "config_update": {"heartbeat_interval_seconds": 60, "inventory_interval_seconds": 3600},
        "upgrade_to": None,
    }
    [point] = wait_for_points(admin, agent["device_id"], 1)
    assert {k: point[k] for k in sample} == sample
    device = _device(server, agent["device_id"])
    assert device.last_seen_at > enrolled_seen
    assert (device.agent_version, device.last_user, device.uptime_seconds) == ("0.1.1", "bob", 99)
    assert device.pending_reboot is True and device.status == "online"
    assert abs(device.last_seen_at.timestamp() - time.time()) < 30


def test_config_update_follows_the_echoed_config_version(
    admin: httpx.Client, tenant: Tenant, server: LiveServer
) -> None:
    agent = _enrolled(admin, server, tenant.org["id"])
    url = f"/api/v1/agents/{agent['agent_id']}/heartbeat"
    with httpx.Client(base_url=server.url, headers=agent_headers(agent["auth_token"])) as c:
        fresh = c.post(url, json=beat_body())
        assert ok(fresh)["config_update"]["heartbeat_interval_seconds"] == 60
        version = fresh.headers["x-breeze-config-version"]
        same = c.post(url, json=beat_body(), headers={"X-Breeze-Config-Version": version})
        assert ok(same)["config_update"] is None
        stale = c.post(url, json=beat_body(), headers={"X-Breeze-Config-Version": "0"})
        assert ok(stale)["config_update"] is not None
        bad = c.post(url, json=beat_body(), headers={"X-Breeze-Config-Version": "many"})
        assert bad.status_code == 422
        assert "X-Breeze-Config-Version" in bad.json()["errors"][0]["field"]


def test_bad_heartbeat_bodies_get_422_naming_the_field(
    admin: httpx.Client, tenant: Tenant, server: LiveServer
) -> None:
    agent = _enrolled(admin, server, tenant.org["id"])
    body_without_version = beat_body()
    del body_without_version["agent_version"]
    cases: list[tuple[dict[str, Any], str]] = [
        (beat_body(metrics=metrics(cpu_percent=150)), "metrics.cpu_percent"),
        (beat_body(metrics=metrics(ram_used_mb=-1)), "metrics.ram_used_mb"),
        (beat_body(metrics=metrics(process_count=2**40)), "metrics.process_count"),
        (beat_body(metrics=metrics(network_in_bytes=2**70)), "metrics.network_in_bytes"),
        (beat_body(metrics=metrics(disk_used_gb=float("inf"))), "metrics.disk_used_gb"),
        (beat_body(metrics=metrics(custom={"x": "a\x00b"})), "metrics.custom.x"),
        (beat_body(metrics=metrics(custom={"x": [1]})), "metrics.custom.x"),
        (beat_body(last_user="eve\x00"), "last_user"),
        (beat_body(last_user="eve\ud800"), "last_user"),
        (beat_body(agent_version="9" * 51), "agent_version"),
        (beat_body(uptime_seconds="long"), "uptime_seconds"),
        (body_without_version, "agent_version"),
        (beat_body(extra=True), "extra"),
    ]
    with httpx.Client(base_url=server.url, headers=agent_headers(agent["auth_token"])) as c:
        for body, field in cases:
            r = c.post(
                f"/api/v1/agents/{agent['agent_id']}/heartbeat",
                content=json.dumps(body).encode(),  # json.dumps writes Infinity as is
                headers={"Content-Type": "application/json"},
            )
            assert r.status_code == 422, (field, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
            fields = {e["field"] for e in r.json()["errors"]}
            assert any(f == field or f.startswith(field + ".") for f in fields), (field, r.text)
        r = c.post(f"/api/v1/agents/{agent['agent_id']}/heartbeat", content=b"{not json")
        assert r.status_code == 422
    time.sleep(1.5)
    assert raw_points(admin, agent["device_id"]) == []


def test_heartbeats_need_the_agents_own_token(
    admin: httpx.Client, tenant: Tenant, server: LiveServer
) -> None:
    a = _enrolled(admin, server, tenant.org["id"])
    b = _enrolled(admin, server, tenant.org["id"])
    with httpx.Client(base_url=server.url, timeout=30) as c:
        path = f"/api/v1/agents/{a['agent_id']}/heartbeat"
        assert c.post(path, json=beat_body()).status_code == 401
        for token in ("brz_agt_" + "x" * 43, "not-an-agent-token", b["auth_token"]):
            r = c.post(path, json=beat_body(), headers=agent_headers(token))
            assert r.status_code == 401, token
            assert r.headers["content-type"].startswith("application/problem+json")
        r = c.post(
            "/api/v1/agents/agt_00000000000000000000/heartbeat",
            json=beat_body(),
            headers=agent_headers(a["auth_token"]),
        )
        assert r.status_code == 401
        # A console token is no agent token either.
        r = c.post(
            path, json=beat_body(), headers={"Authorization": admin.headers["Authorization"]}
        )
        assert r.status_code == 401


def _fire(base_url: str, sent: list[dict[str, Any]]) -> list[Answer]:
    posts = [
        Post(
            f"/api/v1/agents/{a['agent_id']}/heartbeat",
            beat_body(metrics=metrics(process_count=n)),
            agent_headers(a["auth_token"]),
        )
        for n, a in enumerate(sent)
    ]
    return asyncio.run(post_all(base_url, posts, connections=100))


async def _enroll_many(base_url: str, key: str, count: int) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=base_url, timeout=120) as c:
        answers = await asyncio.gather(
            *(c.post("/api/v1/agents/enroll", json=enroll_body(key)) for _ in range(count))
        )
    return [ok(a) for a in answers]


def _stored(api: httpx.Client, agents: list[dict[str, Any]]) -> dict[str, int]:
    return {a["device_id"]: len(raw_points(api, a["device_id"])) for a in agents}


def _wait_stored(
    api: httpx.Client, agents: list[dict[str, Any]], want: dict[str, int]
) -> dict[str, int]:
    deadline = time.monotonic() + 30
    while True:
        got = _stored(api, agents)
        if got == want or time.monotonic() > deadline:
            return got
        time.sleep(0.3)


def _accepted_per_device(
    agents: list[dict[str, Any]], sent: list[dict[str, Any]], answers: list[Answer]
) -> dict[str, int]:
    accepted = {a["device_id"]: 0 for a in agents}
    for agent, answer in zip(sent, answers, strict=True):
        if answer.status == 200:
            accepted[agent["device_id"]] += 1
    return accepted


def test_thousands_of_concurrent_heartbeats_are_all_stored(
    admin: httpx.Client, server: LiveServer
) -> None:
    tenant = make_tenant(admin)
    key = make_enrollment_key(admin, tenant.org["id"])
    agents = asyncio.run(_enroll_many(server.url, key["key"], 50))
    sent = [agents[n % len(agents)] for n in range(2000)]
    answers = _fire(server.url, sent)
    codes = {r.status for r in answers}
    assert codes <= {200, 503}, codes
    accepted = _accepted_per_device(agents, sent, answers)
    assert sum(accepted.values()) == 2000  # the default buffer holds them all
    assert _wait_stored(admin, agents, accepted) == accepted


def test_a_full_buffer_answers_503_with_retry_after_and_loses_nothing(
    server_factory: Any,
) -> None:
    srv: LiveServer = server_factory(
        BREEZE_METRICS__BUFFER_MAX_ROWS="5", BREEZE_METRICS__FLUSH_INTERVAL_SECONDS="1.0"
    )
    api = login(srv.url, ADMIN_EMAIL, ADMIN_PASSWORD)
    with api:
        tenant = make_tenant(api)
        key = make_enrollment_key(api, tenant.org["id"])
        agents = asyncio.run(_enroll_many(srv.url, key["key"], 10))
        sent = [agents[n % len(agents)] for n in range(300)]
        answers = _fire(srv.url, sent)
        refused = [r for r in answers if r.status == 503]
        assert {r.status for r in answers} == {200, 503}
        assert all(r.headers.get("retry-after") == "5" for r in refused)
        assert all(
            r.headers["content-type"].startswith("application/problem+json") for r in refused
        )
        accepted = _accepted_per_device(agents, sent, answers)
        assert _wait_stored(api, agents, accepted) == accepted
        # Once drained, the buffer takes beats again.
        assert beat(srv.url, agents[0]).status_code == 200
