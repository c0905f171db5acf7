"""Thousands of packages: accepted on the inventory route, and diffed correctly.

A dpkg inventory costs about 270 bytes per package on the wire (6,000 packages are about
1.6 MiB), more than the general 1 MiB body limit, so the inventory route has its own
limit (server.max_inventory_bytes, 16 MiB by default).
"""

from __future__ import annotations

import copy
from typing import Any

import httpx
import pytest

from tests.factories import login, make_tenant, ok
from tests.integration.devices.agents import enroll, inventory, real_inventory
from tests.integration.devices.conftest import changes
from tests.support.server import ADMIN_EMAIL, ADMIN_PASSWORD, LiveServer

PACKAGES = 6000
MIB = 1 << 20


def big_software(count: int) -> dict[str, Any]:
    """The real package list, padded with realistic synthetic packages to `count`."""
    software = copy.deepcopy(real_inventory()["software"])
    real = software["items"]
    template = next(i for i in real if i["publisher"] and i["install_date"])
    extra = [
        {
            **template,
            "name": f"breeze-synthetic-lib{n:05d}",
            "version": f"1:{n % 17}.{n % 101}.{n}-1+deb12u{n % 5}",
        }
        for n in range(count - len(real))
    ]
    software["items"] = real + extra
    return software


@pytest.mark.slow
def test_thousands_of_packages(
    server_factory: Any, server: LiveServer, admin: httpx.Client
) -> None:
    doc = inventory(software=big_software(PACKAGES))
    agent = enroll(server, admin, make_tenant(admin))
    # Larger than the general 1 MiB body limit: the inventory route has its own.
    assert agent.send(doc) == 1  # the baseline
    url = f"/api/v1/devices/{agent.device_id}/software"
    assert ok(admin.get(url, params={"per_page": 1}))["total"] == PACKAGES

    items = doc["software"]["items"]
    changed = [{**i, "version": i["version"] + "+b1"} for i in items[:100]]
    kept = items[150:]
    added = [{**items[-1], "name": f"breeze-new-{n}"} for n in range(50)]
    doc["software"] = {**doc["software"], "items": changed + kept + added}
    doc["collected_at"] = inventory()["collected_at"]
    assert agent.send(doc) == 200  # 100 updated, 50 removed, 50 added
    assert agent.send(doc) == 0
    kinds = [c["change_type"] for c in changes(admin, agent.device_id, category="software")]
    assert (kinds.count("updated"), kinds.count("removed"), kinds.count("added")) == (100, 50, 50)
    assert ok(admin.get(url, params={"per_page": 1}))["total"] == PACKAGES


def test_inventory_body_limit_is_its_own_setting(server_factory: Any, admin: httpx.Client) -> None:
    tight: LiveServer = server_factory(BREEZE_SERVER__MAX_INVENTORY_BYTES=str(MIB))
    tight_admin = login(tight.url, ADMIN_EMAIL, ADMIN_PASSWORD)
    agent = enroll(tight, tight_admin, make_tenant(tight_admin))
    refused = agent.put(inventory(software=big_software(PACKAGES)))
    assert len(refused.request.content) > MIB
    assert refused.status_code == 413, refused.text
    assert refused.json()["code"] == "payload_too_large"
    tight_admin.close()
