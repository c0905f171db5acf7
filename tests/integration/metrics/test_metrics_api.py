"""GET /api/v1/devices/{id}/metrics: raw samples and hourly rollups of a visible device."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from breeze.metrics.maintenance import rollup_completed_hours
from breeze.metrics.storage import floor_hour
from tests.factories import Tenant, make_member, make_tenant, ok
from tests.integration.agents.helpers import (
    beat,
    enroll,
    make_enrollment_key,
    metrics,
    wait_for_points,
)
from tests.integration.metrics.helpers import database_of, insert_samples, sample
from tests.support.mailbox import Mailbox
from tests.support.server import LiveServer


@pytest.fixture
def agent(admin: httpx.Client, tenant: Tenant, server: LiveServer) -> dict[str, Any]:
    return ok(enroll(server.url, make_enrollment_key(admin, tenant.org["id"])["key"]))  # type: ignore[no-any-return]


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def test_a_window_of_raw_samples(
    admin: httpx.Client, agent: dict[str, Any], server: LiveServer
) -> None:
    for n in range(3):
        ok(beat(server.url, agent, metrics=metrics(process_count=n)))
    points = wait_for_points(admin, agent["device_id"], 3)
    assert [p["process_count"] for p in points] == [0, 1, 2]
    stamps = [datetime.fromisoformat(p["timestamp"]) for p in points]
    assert stamps == sorted(stamps) and len(set(stamps)) == 3
    path = f"/api/v1/devices/{agent['device_id']}/metrics"
    body = ok(admin.get(path))
    assert (body["device_id"], body["resolution"], body["truncated"]) == (
        agent["device_id"],
        "raw",
        False,
    )
    assert datetime.fromisoformat(body["to"]) - datetime.fromisoformat(body["from"]) == timedelta(
        hours=24
    )
    after = stamps[1].isoformat()
    later = ok(admin.get(path, params={"from": after}))["points"]
    assert [p["process_count"] for p in later] == [1, 2]
    naive = (stamps[2] + timedelta(seconds=1)).replace(tzinfo=None).isoformat()
    assert len(ok(admin.get(path, params={"to": naive}))["points"]) == 3  # naive times are UTC
    assert ok(admin.get(path, params={"to": stamps[0].isoformat()}))["points"] == []


def test_bad_windows_get_422_naming_the_parameter(
    admin: httpx.Client, agent: dict[str, Any]
) -> None:
    path = f"/api/v1/devices/{agent['device_id']}/metrics"
    now = datetime.now(UTC)
    cases = [
        ({"from": _iso(now), "to": _iso(now - timedelta(hours=1))}, "to"),
        ({"from": _iso(now), "to": _iso(now)}, "to"),
        ({"from": _iso(now - timedelta(days=32))}, "from"),
        ({"from": "yesterday"}, "from"),
        ({"to": "0001-01-01T00:00:00Z"}, "from"),
        ({"resolution": "5m"}, "resolution"),
    ]
    for params, field in cases:
        r = admin.get(path, params=params)
        assert r.status_code == 422, (params, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert field in r.json()["errors"][0]["field"], (params, r.text)
    ok(admin.get(path, params={"from": _iso(now - timedelta(days=100)), "resolution": "1h"}))


def test_metrics_of_a_hidden_device_are_404(
    admin: httpx.Client, mailbox: Mailbox, agent: dict[str, Any], tenant: Tenant
) -> None:
    assert admin.get(f"/api/v1/devices/{uuid.uuid4()}/metrics").status_code == 404
    stranger_tenant = make_tenant(admin)
    stranger = make_member(admin, mailbox, role="Org Admin", org_id=stranger_tenant.org["id"])
    viewer = make_member(admin, mailbox, role="Org Viewer", org_id=tenant.org["id"])
    with stranger, viewer:
        r = stranger.get(f"/api/v1/devices/{agent['device_id']}/metrics")
        assert r.status_code == 404
        ok(viewer.get(f"/api/v1/devices/{agent['device_id']}/metrics"))


async def test_hourly_rollups_are_computed_once_per_completed_hour(
    admin: httpx.Client, agent: dict[str, Any], server: LiveServer
) -> None:
    device_id = uuid.UUID(agent["device_id"])
    now = datetime.now(UTC)
    h1 = floor_hour(now) - timedelta(hours=3)
    h2 = h1 + timedelta(hours=1)
    rows = [
        sample(device_id, h1 + timedelta(minutes=10), cpu_percent=10.0, network_in_bytes=100),
        sample(device_id, h1 + timedelta(minutes=20), cpu_percent=20.0, network_in_bytes=300),
        sample(
            device_id,
            h1 + timedelta(minutes=30),
            cpu_percent=60.0,
            network_in_bytes=200,
            process_count=130,
        ),
        sample(device_id, h2 + timedelta(minutes=5), cpu_percent=50.0, ram_percent=70.0),
        sample(device_id, floor_hour(now) + timedelta(seconds=1)),  # current hour: not yet
    ]
    async with database_of(server) as db:
        await insert_samples(db, rows)
        assert await rollup_completed_hours(db, now=now, raw_retention_days=30, since=h1) == 3
        first = await _hourly(admin, agent["device_id"], h1 - timedelta(hours=1))
        assert [datetime.fromisoformat(p["timestamp"]) for p in first] == [h1, h2]
        one, two = first
        assert (one["samples"], one["cpu_min"], one["cpu_max"]) == (3, 10.0, 60.0)
        assert one["cpu_avg"] == pytest.approx(30.0)
        assert one["network_in_bytes_max"] == 300
        assert one["process_count_avg"] == pytest.approx(110.0)
        assert (two["samples"], two["ram_max"], two["cpu_avg"]) == (1, 70.0, 50.0)
        # Running again changes nothing; a late sample is taken in on the next run.
        await rollup_completed_hours(db, now=now, raw_retention_days=30, since=h1)
        assert await _hourly(admin, agent["device_id"], h1 - timedelta(hours=1)) == first
        await insert_samples(db, [sample(device_id, h2 + timedelta(minutes=50), cpu_percent=70.0)])
        await rollup_completed_hours(db, now=now, raw_retention_days=30)  # the worker's call
        again = await _hourly(admin, agent["device_id"], h1 - timedelta(hours=1))
        assert again[0] == one
        assert (again[1]["samples"], again[1]["cpu_avg"]) == (2, pytest.approx(60.0))


async def _hourly(api: httpx.Client, device_id: str, start: datetime) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=str(api.base_url), headers=api.headers) as c:
        r = await c.get(
            f"/api/v1/devices/{device_id}/metrics",
            params={"from": start.isoformat(), "resolution": "1h"},
        )
    return list(ok(r)["points"])
