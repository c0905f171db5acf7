"""Thousands of packages: what the body limit does to them, and what ingest costs.

A dpkg inventory costs about 270 bytes per package on the wire, so the default 1 MiB
body limit (server.max_body_bytes) stops at roughly 3,800 packages.
"""

from __future__ import annotations

import copy
import time
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

    default = enroll(server, admin, make_tenant(admin))
    refused = default.put(doc)
    size = len(refused.request.content)
    assert size > MIB  # 6,000 packages do not fit in the default limit...
    assert refused.status_code == 413, refused.text

    roomy: LiveServer = server_factory(BREEZE_SERVER__MAX_BODY_BYTES=str(16 * MIB))
    roomy_admin = login(roomy.url, ADMIN_EMAIL, ADMIN_PASSWORD)
    agent = enroll(roomy, roomy_admin, make_tenant(roomy_admin))
    started = time.monotonic()
    assert agent.send(doc) == 1  # ...with a larger one they are the baseline
    full_seconds = time.monotonic() - started
    url = f"/api/v1/devices/{agent.device_id}/software"
    assert ok(roomy_admin.get(url, params={"per_page": 1}))["total"] == PACKAGES

    items = doc["software"]["items"]
    changed = [{**i, "version": i["version"] + "+b1"} for i in items[:100]]
    kept = items[150:]
    added = [{**items[-1], "name": f"breeze-new-{n}"} for n in range(50)]
    doc["software"] = {**doc["software"], "items": changed + kept + added}
    doc["collected_at"] = inventory()["collected_at"]
    started = time.monotonic()
    assert agent.send(doc) == 200  # 100 updated, 50 removed, 50 added
    delta_seconds = time.monotonic() - started
    assert agent.send(doc) == 0
    kinds = [c["change_type"] for c in changes(roomy_admin, agent.device_id, category="software")]
    assert (kinds.count("updated"), kinds.count("removed"), kinds.count("added")) == (100, 50, 50)
    assert ok(roomy_admin.get(url, params={"per_page": 1}))["total"] == PACKAGES
    print(
        f"\n{PACKAGES} packages, {size / MIB:.2f} MiB: full {full_seconds:.2f}s, 200-change delta {delta_seconds:.2f}s"
    )
    assert full_seconds < 60 and delta_seconds < 30
    roomy_admin.close()
