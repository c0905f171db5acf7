"""Enrolled devices for the device tests, and real inventory documents of this machine.

Devices are created through ``POST /api/v1/agents/enroll`` when the server offers it
(with an enrollment key from ``/api/v1/enrollment-keys``); until then a device row with a
known agent token is written straight into the test server's database, exactly as
enrollment would leave it.
"""

from __future__ import annotations

import copy
import socket
import uuid
from dataclasses import dataclass
from functools import cache
from typing import Any

import httpx

from breeze_agent.collectors import collect_inventory
from tests.factories import Tenant, ok, unique
from tests.support.server import LiveServer


@dataclass
class Agent:
    device_id: str
    agent_id: str
    token: str
    base_url: str
    tenant: Tenant

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url, headers={"Authorization": f"Bearer {self.token}"}, timeout=60
        )

    def put(self, document: dict[str, Any], agent_id: str | None = None) -> httpx.Response:
        with self.client() as c:
            return c.put(f"/api/v1/agents/{agent_id or self.agent_id}/inventory", json=document)

    def send(self, document: dict[str, Any]) -> int:
        """PUT an inventory that must be accepted; the number of history rows it added."""
        body = ok(self.put(document))
        assert body["accepted"] is True, body
        return int(body["changes"])


@cache
def real_inventory() -> dict[str, Any]:
    """This machine's inventory from the real collectors, as the agent sends it (JSON)."""
    doc = collect_inventory()
    assert not doc.errors, doc.errors
    return doc.model_dump(mode="json")


def inventory(**changes: Any) -> dict[str, Any]:
    """A deep copy of the real inventory with top-level keys replaced."""
    doc = copy.deepcopy(real_inventory())
    doc.update(changes)
    return doc


def _enroll_via_api(
    admin: httpx.Client, tenant: Tenant, site: dict[str, Any], hostname: str
) -> Agent:
    key = ok(
        admin.post(
            "/api/v1/enrollment-keys",
            json={"name": unique("key"), "org_id": tenant.org["id"], "site_id": site["id"]},
        ),
        201,
    )
    body = {
        "enrollment_key": key["key"],
        "machine_id": uuid.uuid4().hex,
        "hostname": hostname,
        "os_type": "linux",
        "os_version": "12",
        "architecture": "x86_64",
        "agent_version": "0.1.0",
    }
    with httpx.Client(base_url=str(admin.base_url), timeout=30) as anon:
        answer = anon.post("/api/v1/agents/enroll", json=body)
    assert answer.status_code in (200, 201), answer.text
    enrolled = answer.json()
    return Agent(
        device_id=enrolled["device_id"],
        agent_id=enrolled["agent_id"],
        token=enrolled["auth_token"],
        base_url=str(admin.base_url),
        tenant=tenant,
    )


def enroll(
    server: LiveServer,
    admin: httpx.Client,
    tenant: Tenant,
    *,
    site: dict[str, Any] | None = None,
    hostname: str | None = None,
) -> Agent:
    """A new enrolled device in `tenant` (its first site unless told), no inventory yet."""
    site = site or tenant.site
    hostname = hostname or f"{socket.gethostname()}-{uuid.uuid4().hex[:6]}"
    return _enroll_via_api(admin, tenant, site, hostname)
