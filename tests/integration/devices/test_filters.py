"""Device list filters: tags (normalised, listed with counts), status, pending reboot,
last seen, custom fields and groups; and the same key typed differently elsewhere."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.agent.helpers import skip_or_fail
from tests.factories import make_tenant, ok
from tests.integration.agent_e2e.conftest import eventually
from tests.integration.agents.helpers import beat
from tests.integration.devices.agents import enroll
from tests.integration.devices.selection import (
    device_ids,
    make_field,
    problem_fields,
    set_values,
)
from tests.support.server import LiveServer


class Fleet:
    def __init__(self, server: LiveServer, admin: httpx.Client) -> None:
        self.tenant = make_tenant(admin)
        self.org = self.tenant.org["id"]
        self.a, self.b, self.c = (enroll(server, admin, self.tenant) for _ in range(3))
        make_field(admin, self.org, "env", "select", options=["prod", "dev"], default_value="dev")
        make_field(admin, self.org, "cores", "number")
        make_field(admin, self.org, "managed", "boolean")
        make_field(admin, self.org, "roles", "multiselect", options=["web", "db"])
        make_field(admin, self.org, "note", "text")
        make_field(admin, self.org, "since", "date")
        set_values(admin, self.a.device_id, {"env": "prod", "cores": 8, "roles": ["web"]})
        set_values(
            admin,
            self.b.device_id,
            {
                "env": "dev",
                "cores": 4.5,
                "managed": True,
                "note": "Rack Ünit 7",
                "since": "2024-02-29",
            },
        )
        # A second organization using the same key with another type.
        self.other = make_tenant(admin)
        self.d = enroll(server, admin, self.other)
        make_field(admin, self.other.org["id"], "cores", "text")
        set_values(admin, self.d.device_id, {"cores": "eight"})


@pytest.fixture(scope="module")
def fleet(server: LiveServer, admin: httpx.Client) -> Fleet:
    return Fleet(server, admin)


def test_tags_are_normalised_and_listed(fleet: Fleet, admin: httpx.Client) -> None:
    a, b = fleet.a.device_id, fleet.b.device_id
    body = ok(
        admin.patch(f"/api/v1/devices/{a}", json={"tags": [" Prod ", "prod", "Web   Server"]})
    )
    assert body["tags"] == ["prod", "web server"]
    ok(admin.patch(f"/api/v1/devices/{b}", json={"tags": ["PROD"]}))
    tags = ok(admin.get("/api/v1/devices/tags", params={"org_id": fleet.org}))
    assert tags == [{"tag": "prod", "count": 2}, {"tag": "web server", "count": 1}]
    other = ok(admin.get("/api/v1/devices/tags", params={"org_id": fleet.other.org["id"]}))
    assert other == []
    assert device_ids(admin, org_id=fleet.org, tag="Prod") == {a, b}
    assert device_ids(admin, org_id=fleet.org, tag="web server") == {a}
    assert problem_fields(admin.get("/api/v1/devices/tags", params={"org_id": "x"})) == [
        "query.org_id"
    ]


def test_custom_field_filters(fleet: Fleet, admin: httpx.Client) -> None:
    org, a, b, c = fleet.org, fleet.a.device_id, fleet.b.device_id, fleet.c.device_id

    def match(expr: str) -> set[str]:
        return device_ids(admin, org_id=org, custom_field=expr)

    assert match("env:prod") == {a}
    assert match("env:dev") == {b, c}  # c has no value: the default counts
    assert match("env:prod,env:dev") == {a, b, c}  # same key: any
    assert match("env:dev,cores:4.5") == {b}  # different keys: all
    assert match("env:prod,cores:4.5") == set()
    assert match("cores:8.0") == {a} and match("cores:8") == {a}
    assert match("managed:true") == {b} and match("managed:false") == set()
    assert match("roles:web") == {a} and match("roles:db") == set()
    assert match("note:RACK Ünit 7") == {b}  # case of non-ASCII letters: per database
    assert match("since:2024-02-29") == {b}
    assert match("cores:*") == {a, b} and match("env:*") == {a, b, c}
    for bad in ("env", "ENV:prod", "env:", "nope:1", "cores:many"):
        r = admin.get("/api/v1/devices", params={"org_id": org, "custom_field": bad})
        assert problem_fields(r) == ["custom_field"], bad
    # Across organizations the key is a number here and text there: each compares by its type.
    everywhere = device_ids(admin, custom_field="cores:eight")
    assert fleet.d.device_id in everywhere and not everywhere & {a, b, c}
    assert a in device_ids(admin, custom_field="cores:8")


def test_status_reboot_and_last_seen(fleet: Fleet, admin: httpx.Client) -> None:
    org, a = fleet.org, fleet.a
    agent = {"agent_id": a.agent_id, "auth_token": a.token}
    assert beat(a.base_url, agent, pending_reboot=True).status_code == 200
    eventually(
        lambda: device_ids(admin, org_id=org, has_pending_reboot="true") == {a.device_id},
        timeout=15,
        what="pending reboot filter",
    )
    assert fleet.b.device_id in device_ids(admin, org_id=org, has_pending_reboot="false")
    assert device_ids(admin, org_id=org, status="online") >= {a.device_id}
    now = datetime.now(UTC)
    later = (now + timedelta(hours=1)).isoformat()
    earlier = (now - timedelta(days=1)).isoformat()
    assert device_ids(admin, org_id=org, last_seen_after=later) == set()
    assert a.device_id in device_ids(admin, org_id=org, last_seen_after=earlier)
    assert a.device_id in device_ids(admin, org_id=org, last_seen_before=later)
    assert device_ids(admin, org_id=org, last_seen_before=earlier) == set()
    r = admin.get("/api/v1/devices", params={"org_id": org, "last_seen_after": "yesterday"})
    assert problem_fields(r) == ["last_seen_after"]


def test_group_filter(fleet: Fleet, admin: httpx.Client, anon: httpx.Client) -> None:
    if "/api/v1/device-groups" not in anon.get("/api/v1/openapi.json").json()["paths"]:
        skip_or_fail("device groups are not mounted")
    group = ok(
        admin.post(
            "/api/v1/device-groups",
            json={"org_id": fleet.org, "name": "filter-test", "type": "static"},
        ),
        201,
    )
    members = [fleet.a.device_id, fleet.c.device_id]
    ok(admin.post(f"/api/v1/device-groups/{group['id']}/members", json={"device_ids": members}))
    assert device_ids(admin, group_id=group["id"]) == set(members)
    assert device_ids(admin, group_id=group["id"], custom_field="env:prod") == {fleet.a.device_id}
    r = admin.get("/api/v1/devices", params={"group_id": fleet.org})  # not a group id
    assert r.status_code == 404
