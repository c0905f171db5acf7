"""A server that stops gracefully writes every heartbeat it accepted before it exits."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.factories import login, make_tenant, ok
from tests.integration.agents.helpers import (
    agent_headers,
    beat_body,
    enroll,
    make_enrollment_key,
    metrics,
    raw_points,
)
from tests.integration.agents.load import Post, post_all
from tests.support.server import ADMIN_EMAIL, ADMIN_PASSWORD, LiveServer


def test_accepted_beats_are_flushed_on_shutdown(server_factory: Any) -> None:
    srv: LiveServer = server_factory(BREEZE_METRICS__FLUSH_INTERVAL_SECONDS="1.0")
    with login(srv.url, ADMIN_EMAIL, ADMIN_PASSWORD) as api:
        tenant = make_tenant(api)
        agent = ok(enroll(srv.url, make_enrollment_key(api, tenant.org["id"])["key"]))
    posts = [
        Post(
            f"/api/v1/agents/{agent['agent_id']}/heartbeat",
            beat_body(metrics=metrics(process_count=n)),
            agent_headers(agent["auth_token"]),
        )
        for n in range(300)
    ]
    answers = asyncio.run(post_all(srv.url, posts, connections=20))
    accepted = sorted(n for n, a in enumerate(answers) if a.status == 200)
    srv.stop()  # SIGTERM at once: most beats are still in the buffer
    srv.start()
    with (
        httpx.Client(base_url=srv.url, timeout=30) as c,
        login(srv.url, ADMIN_EMAIL, ADMIN_PASSWORD) as api,
    ):
        assert c.get("/ready").status_code == 200
        stored = sorted(p["process_count"] for p in raw_points(api, agent["device_id"]))
    assert stored == accepted
    assert len(accepted) == 300
