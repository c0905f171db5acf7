"""Fixtures of the device tests: an enrolled device, with or without its first inventory."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.factories import Tenant, ok
from tests.integration.devices.agents import Agent, enroll, inventory
from tests.support.server import LiveServer


@pytest.fixture
def agent(server: LiveServer, admin: httpx.Client, tenant: Tenant) -> Agent:
    return enroll(server, admin, tenant)


@pytest.fixture
def ingested(agent: Agent) -> Agent:
    """A device whose first (full) inventory is stored: the baseline."""
    assert agent.send(inventory()) == 1
    return agent


def changes(api: httpx.Client, device_id: str, **params: Any) -> list[dict[str, Any]]:
    params.setdefault("per_page", 200)
    return ok(api.get(f"/api/v1/devices/{device_id}/changes", params=params))["items"]  # type: ignore[no-any-return]


def all_software(api: httpx.Client, device_id: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    page = 1
    while True:
        body = ok(
            api.get(
                f"/api/v1/devices/{device_id}/software",
                params={"per_page": 200, "page": page, **params},
            )
        )
        items += body["items"]
        if page >= body["pages"]:
            return items
        page += 1
