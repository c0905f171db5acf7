"""The device console API: list (filters, search, sort, pages), PATCH, decommission,
tenant and site isolation."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.factories import Tenant, make_member, make_site, make_tenant, ok
from tests.integration.devices.agents import Agent, enroll, inventory, real_inventory
from tests.integration.devices.conftest import changes
from tests.support.mailbox import Mailbox
from tests.support.server import LiveServer


def devices(api: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    params.setdefault("per_page", 200)
    return ok(api.get("/api/v1/devices", params=params))["items"]  # type: ignore[no-any-return]


def hostnames(api: httpx.Client, **params: Any) -> list[str]:
    return [d["hostname"] for d in devices(api, **params)]


def patch(api: httpx.Client, device_id: str, body: dict[str, Any]) -> httpx.Response:
    return api.patch(f"/api/v1/devices/{device_id}", json=body)


def fields(response: httpx.Response) -> list[str]:
    assert response.status_code == 422, response.text
    return [e["field"] for e in response.json()["errors"]]


def _network_with(extra_ip: str, primary_ip: str) -> dict[str, Any]:
    network = json.loads(json.dumps(real_inventory()["network"]))
    primary = next(i for i in network["interfaces"] if i["is_primary"])
    for addr in primary["addresses"]:
        if addr["ip_type"] == "ipv4":
            addr["ip_address"] = primary_ip
    other = next(
        (i for i in network["interfaces"] if not i["is_primary"] and not i["is_loopback"]), None
    )
    if other is None:
        other = {"interface_name": "breeze0", "mac_address": None, "addresses": []}
        network["interfaces"].append(other)
    other["addresses"].append(
        {"ip_address": extra_ip, "ip_type": "ipv4", "prefix_length": 24, "scope": "global"}
    )
    return network


class Fleet:
    """Three devices of one organization on two sites, with inventory, tags, a name."""

    def __init__(self, server: LiveServer, admin: httpx.Client) -> None:
        self.tenant = make_tenant(admin)
        self.site2 = make_site(admin, self.tenant.org["id"])
        tag = uuid.uuid4().hex[:6]
        self.suffix = tag
        self.a = enroll(server, admin, self.tenant, hostname=f"alpha-{tag}")
        self.b = enroll(server, admin, self.tenant, site=self.site2, hostname=f"bravo-{tag}")
        self.c = enroll(server, admin, self.tenant, hostname=f"charlie-{tag}")
        doc = inventory()
        doc["os"] = {**doc["os"], "hostname": f"alpha-{tag}"}
        doc["hardware"] = {**doc["hardware"], "serial_number": f"SN-{tag.upper()}"}
        self.extra_ip = f"10.77.{int(tag[:2], 16)}.{int(tag[2:4], 16)}"
        doc["network"] = _network_with(self.extra_ip, "203.0.113.9")
        assert self.a.send(doc) == 1
        ok(patch(admin, self.b.device_id, {"tags": ["Web", "prod"]}))
        ok(patch(admin, self.c.device_id, {"tags": ["PROD"], "display_name": "zulu box"}))
        self.names = [f"alpha-{tag}", f"bravo-{tag}", f"charlie-{tag}"]


@pytest.fixture(scope="module")
def fleet(server: LiveServer, admin: httpx.Client) -> Fleet:
    return Fleet(server, admin)


def test_list_filters(fleet: Fleet, admin: httpx.Client) -> None:
    org = fleet.tenant.org["id"]
    a, b, c = fleet.names
    assert sorted(hostnames(admin, org_id=org)) == [a, b, c]
    assert hostnames(admin, org_id=org, site_id=fleet.site2["id"]) == [b]
    assert sorted(hostnames(admin, org_id=org, tag="prod")) == [b, c]
    assert hostnames(admin, org_id=org, tag="WEB,db") == [b]
    assert hostnames(admin, org_id=org, tag="none-such") == []
    assert sorted(hostnames(admin, org_id=org, status="online")) == [a, b, c]
    assert hostnames(admin, org_id=org, os_type="windows") == []
    r = admin.get("/api/v1/devices", params={"org_id": "not-a-uuid"})
    assert fields(r) == ["org_id"]


def test_list_search(fleet: Fleet, admin: httpx.Client) -> None:
    org = fleet.tenant.org["id"]
    a, b, c = fleet.names
    assert hostnames(admin, q=f"BRAVO-{fleet.suffix}") == [b]
    assert hostnames(admin, org_id=org, q="zulu") == [c]
    assert hostnames(admin, q=f"sn-{fleet.suffix}") == [a]
    assert hostnames(admin, org_id=org, q="203.0.113.9") == [a]  # primary IP
    assert hostnames(admin, org_id=org, q=fleet.extra_ip) == [a]  # any interface's address
    assert hostnames(admin, org_id=org, q="%") == []
    assert hostnames(admin, org_id=org, q="_") == []


def test_list_sort_and_pages(fleet: Fleet, admin: httpx.Client) -> None:
    org = fleet.tenant.org["id"]
    a, b, c = fleet.names
    assert hostnames(admin, org_id=org, sort="hostname") == [a, b, c]
    assert hostnames(admin, org_id=org, sort="-hostname") == [c, b, a]
    assert hostnames(admin, org_id=org, sort="display_name") == [a, b, c]  # zulu box last
    assert hostnames(admin, org_id=org, sort="-display_name,hostname") == [c, b, a]
    for column in (
        "status",
        "os_type",
        "os_version",
        "last_seen_at",
        "enrolled_at",
        "agent_version",
    ):
        assert sorted(hostnames(admin, org_id=org, sort=column)) == [a, b, c]
    assert fields(admin.get("/api/v1/devices", params={"sort": "machine_id"})) == ["sort"]
    first = ok(
        admin.get("/api/v1/devices", params={"org_id": org, "per_page": 2, "sort": "hostname"})
    )
    assert (first["total"], first["pages"]) == (3, 2)
    assert [d["hostname"] for d in first["items"]] == [a, b]
    second = ok(
        admin.get(
            "/api/v1/devices", params={"org_id": org, "per_page": 2, "page": 2, "sort": "hostname"}
        )
    )
    assert [d["hostname"] for d in second["items"]] == [c]


def test_software_list_search_and_sort(fleet: Fleet, admin: httpx.Client) -> None:
    url = f"/api/v1/devices/{fleet.a.device_id}/software"
    items = real_inventory()["software"]["items"]
    page = ok(admin.get(url, params={"per_page": 5, "sort": "-name"}))
    assert page["total"] == len(items)
    assert [s["name"] for s in page["items"]] == sorted((i["name"] for i in items), reverse=True)[
        :5
    ]
    target = items[len(items) // 2]
    found = ok(admin.get(url, params={"q": target["name"], "per_page": 200}))["items"]
    assert target["name"] in [s["name"] for s in found]
    publisher = next(i["publisher"] for i in items if i["publisher"])
    by_publisher = ok(admin.get(url, params={"q": publisher[:12], "per_page": 200}))
    assert by_publisher["total"] >= 1
    needle = publisher[:12].lower()
    for s in by_publisher["items"]:
        assert needle in (s["publisher"] or "").lower() or needle in s["name"].lower()
    system = ok(admin.get(url, params={"is_system": "true", "per_page": 200}))
    assert system["total"] == sum(1 for i in items if i["is_system"])
    assert fields(admin.get(url, params={"sort": "size"})) == ["sort"]


def test_patch_tags_name_and_site(fleet: Fleet, admin: httpx.Client) -> None:
    device = fleet.c.device_id
    body = ok(patch(admin, device, {"tags": [" Prod ", "prod", "Web   Server", "db"]}))
    assert body["tags"] == ["prod", "web server", "db"]
    assert fields(patch(admin, device, {"tags": [f"t{i}" for i in range(51)]})) == ["tags"]
    assert fields(patch(admin, device, {"tags": ["x" * 51]})) == ["tags.0"]
    assert fields(patch(admin, device, {"tags": ["ok", "a,b"]})) == ["tags.1"]
    assert fields(patch(admin, device, {"tags": ["   "]})) == ["tags.0"]
    assert fields(patch(admin, device, {"tags": None})) == ["tags"]
    assert fields(patch(admin, device, {"hostname": "nope"})) == ["hostname"]
    assert fields(patch(admin, device, {"display_name": "n" * 256})) == ["display_name"]

    assert ok(patch(admin, device, {"display_name": "Front desk"}))["display_name"] == "Front desk"
    assert ok(patch(admin, device, {"display_name": None}))["display_name"] is None

    moved = ok(patch(admin, device, {"site_id": fleet.site2["id"]}))
    assert moved["site_id"] == fleet.site2["id"]
    ok(patch(admin, device, {"site_id": fleet.tenant.site["id"]}))
    other = make_tenant(admin)
    assert fields(patch(admin, device, {"site_id": other.site["id"]})) == ["site_id"]
    assert fields(patch(admin, device, {"site_id": str(uuid.uuid4())})) == ["site_id"]
    assert fields(patch(admin, device, {"site_id": None})) == ["site_id"]
    assert ok(admin.get(f"/api/v1/devices/{device}"))["site_id"] == fleet.tenant.site["id"]

    audit = ok(
        admin.get("/api/v1/audit/logs", params={"action": "device.update", "resource_id": device})
    )
    site_moves = [a for a in audit["items"] if "site_id" in a["details"]["changes"]]
    assert len(site_moves) == 2
    assert site_moves[-1]["details"]["changes"]["site_id"] == [
        fleet.tenant.site["id"],
        fleet.site2["id"],
    ]


def test_decommission_revokes_the_agent_and_hides_the_device(
    server: LiveServer, admin: httpx.Client, tenant: Tenant, mailbox: Mailbox
) -> None:
    agent = enroll(server, admin, tenant)
    assert agent.send(inventory()) == 1
    url = f"/api/v1/devices/{agent.device_id}"
    technician = make_member(admin, mailbox, role="Org Technician", org_id=tenant.org["id"])
    assert technician.delete(url).status_code == 403  # no devices:delete
    assert agent.send(inventory()) == 0  # still enrolled

    assert admin.delete(url).status_code == 204
    assert agent.put(inventory()).status_code == 401
    org = tenant.org["id"]
    assert agent.device_id not in [d["id"] for d in devices(admin, org_id=org)]
    gone = devices(admin, org_id=org, status="decommissioned")
    assert [d["id"] for d in gone] == [agent.device_id]
    detail = ok(admin.get(url))
    assert detail["status"] == "decommissioned" and detail["decommissioned_at"]
    assert patch(admin, agent.device_id, {"tags": ["x"]}).status_code == 409
    assert admin.delete(url).status_code == 204  # again: nothing more happens
    audit = ok(
        admin.get(
            "/api/v1/audit/logs",
            params={"action": "device.decommission", "resource_id": agent.device_id},
        )
    )
    assert audit["total"] == 1
    assert len(changes(admin, agent.device_id)) == 1  # history is kept


def test_other_tenants_get_404_everywhere(
    server: LiveServer, admin: httpx.Client, tenant: Tenant, mailbox: Mailbox
) -> None:
    agent = enroll(server, admin, tenant)
    agent.send(inventory())
    other = make_tenant(admin)
    outsiders = [
        make_member(admin, mailbox, role="Org Admin", org_id=other.org["id"]),
        make_member(admin, mailbox, role="Partner Admin", partner_id=other.partner["id"]),
    ]
    base = f"/api/v1/devices/{agent.device_id}"
    for outsider in outsiders:
        for sub in ("", "/hardware", "/software", "/network", "/disks", "/changes"):
            assert outsider.get(base + sub).status_code == 404, sub
        assert outsider.patch(base, json={"tags": ["mine"]}).status_code == 404
        assert outsider.patch(base, json={"site_id": other.site["id"]}).status_code == 404
        assert outsider.delete(base).status_code == 404
        assert agent.device_id not in [d["id"] for d in devices(outsider)]
        assert devices(outsider, org_id=tenant.org["id"]) == []
    detail = ok(admin.get(base))
    assert detail["tags"] == [] and detail["status"] == "online"
    assert agent.send(inventory()) == 0


def test_site_scoped_users_see_only_their_sites(
    server: LiveServer, admin: httpx.Client, tenant: Tenant, mailbox: Mailbox
) -> None:
    site2 = make_site(admin, tenant.org["id"])
    here = enroll(server, admin, tenant)
    there = enroll(server, admin, tenant, site=site2)
    viewer = make_member(
        admin, mailbox, role="Org Viewer", org_id=tenant.org["id"], site_ids=[tenant.site["id"]]
    )
    assert [d["id"] for d in devices(viewer)] == [here.device_id]
    assert viewer.get(f"/api/v1/devices/{there.device_id}").status_code == 404
    assert viewer.get(f"/api/v1/devices/{there.device_id}/changes").status_code == 404
    ok(viewer.get(f"/api/v1/devices/{here.device_id}"))
    assert patch(viewer, here.device_id, {"tags": ["x"]}).status_code == 403  # read only

    tech = make_member(
        admin, mailbox, role="Org Technician", org_id=tenant.org["id"], site_ids=[tenant.site["id"]]
    )
    assert ok(patch(tech, here.device_id, {"tags": ["Tech"]}))["tags"] == ["tech"]
    # Moving a device into a site the technician does not manage is refused.
    assert patch(tech, here.device_id, {"site_id": site2["id"]}).status_code == 403
    assert ok(admin.get(f"/api/v1/devices/{here.device_id}"))["site_id"] == tenant.site["id"]


def test_history_paging_and_filters(agent: Agent, admin: httpx.Client) -> None:
    agent.send(inventory())
    software = real_inventory()["software"]
    items = [dict(i) for i in software["items"]]
    for i in range(5):
        items[i] = {**items[i], "version": items[i]["version"] + "+b1"}
    doc = {
        "protocol_version": 1,
        "mode": "delta",
        "agent_version": "0.1.0",
        "collected_at": datetime.now(UTC).isoformat(),
        "software": {**software, "items": items},
    }
    assert agent.send(doc) == 5
    url = f"/api/v1/devices/{agent.device_id}/changes"
    page = ok(admin.get(url, params={"per_page": 2, "category": "software", "sort": "subject"}))
    assert (page["total"], page["pages"]) == (5, 3)
    assert [c["subject"] for c in page["items"]] == sorted(i["name"] for i in items[:5])[:2]
    assert ok(admin.get(url, params={"change_type": "baseline"}))["total"] == 1
    assert ok(admin.get(url, params={"q": items[0]["name"]}))["total"] >= 1
    assert fields(admin.get(url, params={"created_after": "yesterday"})) == ["query.created_after"]
