"""Acting as an agent over HTTP (a real enrollment's token) and as a console user."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import select

from breeze.commands.models import DeviceCommand
from breeze_protocol.commands import CommandEnvelope
from breeze_protocol.signing import verify_envelope
from tests.factories import Tenant, ok
from tests.integration.agents.helpers import (
    agent_headers,
    beat_body,
    enroll,
    make_enrollment_key,
    run,
)
from tests.support.server import LiveServer

# Short cadences so expiry, re-delivery and timeouts happen within seconds.
COMMAND_ENV = {
    "BREEZE_COMMANDS__REDELIVER_AFTER_SECONDS": "2",
    "BREEZE_COMMANDS__SWEEP_INTERVAL_SECONDS": "0.3",
    "BREEZE_COMMANDS__RESULT_GRACE_SECONDS": "1",
    "BREEZE_METRICS__FLUSH_INTERVAL_SECONDS": "0.1",
}


@dataclass
class Agent:
    """An enrolled agent, driven by hand over the gateway."""

    server: LiveServer
    agent_id: str
    device_id: str
    token: str
    public_key: str

    def _post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        with httpx.Client(base_url=self.server.url, timeout=30) as c:
            return c.post(
                f"/api/v1/agents/{self.agent_id}{path}",
                json=body,
                headers=agent_headers(self.token),
            )

    def heartbeat(self, **fields: Any) -> list[CommandEnvelope]:
        """Beat once; the envelopes handed out, each checked against the enrollment key."""
        body = ok(self._post("/heartbeat", beat_body(**fields)))
        envelopes = [CommandEnvelope.model_validate(e) for e in body["commands"]]
        for env in envelopes:
            assert verify_envelope(self.public_key, env), env
            assert env.agent_id == self.agent_id
        return envelopes

    def ack(self, command_id: str, **fields: Any) -> httpx.Response:
        return self._post(f"/commands/{command_id}/ack", {"status": "running", **fields})

    def output(self, command_id: str, *chunks: tuple[int, str, str]) -> httpx.Response:
        body = {
            "chunks": [
                {"command_id": command_id, "seq": seq, "stream": stream, "data": data}
                for seq, stream, data in chunks
            ]
        }
        return self._post(f"/commands/{command_id}/output", body)

    def result(self, command_id: str, status: str = "completed", **fields: Any) -> httpx.Response:
        return self._post(f"/commands/{command_id}/result", {"status": status, **fields})


def enrolled(admin: httpx.Client, server: LiveServer, tenant: Tenant) -> Agent:
    key = make_enrollment_key(admin, tenant.org["id"])
    body = ok(enroll(server.url, key["key"]))
    public_key = body["config"]["command_public_key"]
    assert public_key
    return Agent(server, body["agent_id"], body["device_id"], body["auth_token"], public_key)


def queue(api: httpx.Client, device_id: str, type: str = "script", **body: Any) -> httpx.Response:
    if type == "script":
        body.setdefault("payload", {"language": "bash", "content": "echo hello"})
    return api.post(f"/api/v1/devices/{device_id}/commands", json={"type": type, **body})


def queued(api: httpx.Client, device_id: str, type: str = "script", **body: Any) -> dict[str, Any]:
    return ok(queue(api, device_id, type, **body), 201)  # type: ignore[no-any-return]


def detail(api: httpx.Client, device_id: str, command_id: str) -> dict[str, Any]:
    return ok(api.get(f"/api/v1/devices/{device_id}/commands/{command_id}"))  # type: ignore[no-any-return]


def eventually(check: Callable[[], Any], timeout: float = 10.0, interval: float = 0.1) -> Any:
    """The first truthy value of `check()`, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last: {value!r})")
        time.sleep(interval)


def stored(server: LiveServer, command_id: str) -> Any:
    """The command row as stored (what no API shows: the raw payload)."""
    table = DeviceCommand.__table__
    [row] = run(server, select(table).where(table.c.id == uuid.UUID(command_id)))
    return row
