"""Shared pieces of the real-time tests: an enrolled agent (through the real API), raw
WebSocket clients, queuing commands, reading server-sent events."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from tests.factories import Tenant, ok
from tests.integration.agents.helpers import enroll, make_enrollment_key


@dataclass
class Agent:
    agent_id: str
    device_id: str
    token: str
    config: dict[str, Any]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def enroll_agent(admin: httpx.Client, tenant: Tenant, base_url: str | None = None) -> Agent:
    key = make_enrollment_key(admin, tenant.org["id"])["key"]
    body = ok(enroll(base_url or str(admin.base_url), key))
    return Agent(body["agent_id"], body["device_id"], body["auth_token"], body.get("config", {}))


def enroll_agent_with_key(base_url: str, key: str) -> Agent:
    body = ok(enroll(base_url, key))
    return Agent(body["agent_id"], body["device_id"], body["auth_token"], body.get("config", {}))


def ws_url(base_url: str, agent_id: str) -> str:
    return base_url.replace("http://", "ws://", 1) + f"/ws/agents/{agent_id}"


async def open_socket(
    base_url: str, agent: Agent, token: str | None = None, *, hello: bool = True
) -> ClientConnection:
    """An agent's raw WebSocket; with `hello`, past the server's first frame, which must
    say it takes acks and results over the socket."""
    ws = await connect(
        ws_url(base_url, agent.agent_id),
        additional_headers={"Authorization": f"Bearer {token or agent.token}"},
        open_timeout=10,
    )
    if hello:
        first = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert first == {"type": "hello", "reports": True}, first
    return ws


def queue_command(
    api: httpx.Client, device_id: str, type: str = "collect_inventory", **body: Any
) -> dict[str, Any]:
    result: dict[str, Any] = ok(
        api.post(f"/api/v1/devices/{device_id}/commands", json={"type": type, **body}), 201
    )
    return result


def script_body(content: str = "echo hi") -> dict[str, Any]:
    return {"type": "script", "payload": {"language": "bash", "content": content}}


def report(base_url: str, agent: Agent, command_id: str, what: str, body: dict[str, Any]) -> None:
    """The agent's ack/output/result calls on the HTTP gateway."""
    with httpx.Client(base_url=base_url, timeout=30, headers=agent.headers) as c:
        r = c.post(f"/api/v1/agents/{agent.agent_id}/commands/{command_id}/{what}", json=body)
    assert r.status_code in (200, 204), f"{what}: {r.status_code} {r.text}"


def command_frame(message: str | bytes) -> dict[str, Any]:
    frame: dict[str, Any] = json.loads(message)
    assert frame["type"] == "command", frame
    return frame


def sse_events(response: httpx.Response) -> Iterator[tuple[str, dict[str, Any]]]:
    """(event, data) of a text/event-stream answer as they arrive (comments skipped)."""
    event, data = "message", ""
    for line in response.iter_lines():
        if line.startswith(":"):
            continue
        if not line:
            if data:
                yield event, json.loads(data)
            event, data = "message", ""
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data += line[5:].strip()


def gauge(base_url: str, name: str) -> float:
    """A gauge's value on the server's /metrics page."""
    text = httpx.get(f"{base_url}/metrics", timeout=10).text
    for line in text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    raise AssertionError(f"{name} is not on /metrics")
