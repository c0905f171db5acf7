"""Fleet software inventory: titles, versions, devices and the CSV export, over devices
enrolled and inventoried through the agent protocol."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
import pytest

from tests.factories import make_member, make_site, make_tenant, ok, unique
from tests.integration.devices.agents import Agent, enroll, inventory
from tests.support.mailbox import Mailbox
from tests.support.server import LiveServer


def package(name: str, version: str, publisher: str | None = None, **more: Any) -> dict[str, Any]:
    return {
        "name": name,
        "version": version,
        "architecture": "amd64",
        "publisher": publisher,
        "install_date": "2025-03-04T05:06:07Z",
        "is_system": False,
        "source": "dpkg",
        **more,
    }


def upload(agent: Agent, *items: dict[str, Any]) -> None:
    agent.send(inventory(software={"sources": ["dpkg"], "items": list(items)}))


class Fleet:
    """Three devices of one tenant (two sites) and one of another tenant, with a tool
    installed in several versions (one device has two side by side)."""

    def __init__(self, server: LiveServer, admin: httpx.Client) -> None:
        self.tool = unique("g3tool")
        self.other = unique("g3other")
        self.evil = "=" + unique("g3evil")  # a formula, once in a spreadsheet
        self.tenant = make_tenant(admin)
        self.site2 = make_site(admin, self.tenant.org["id"])
        self.a = enroll(server, admin, self.tenant)
        self.b = enroll(server, admin, self.tenant)
        self.c = enroll(server, admin, self.tenant, site=self.site2)
        self.stranger = make_tenant(admin)
        self.d = enroll(server, admin, self.stranger)
        upload(self.a, package(self.tool, "1.9", "Tool Makers"), package(self.other, "1.0", "Acme"))
        upload(self.b, package(self.tool, "1.10", "Tool Makers"), package(self.evil, "-1", "@bad"))
        upload(self.c, package(self.tool, "1.9", "Tool Makers"), package(self.tool, "2.0", "TM"))
        upload(self.d, package(self.tool, "9.9", "Tool Makers"))

    @property
    def org(self) -> str:
        return str(self.tenant.org["id"])


@pytest.fixture(scope="module")
def fleet(server: LiveServer, admin: httpx.Client) -> Fleet:
    return Fleet(server, admin)


def titles(api: httpx.Client, **params: Any) -> dict[str, dict[str, Any]]:
    body = ok(api.get("/api/v1/software", params={"per_page": 200, **params}))
    return {t["name"]: t for t in body["items"]}


def test_titles_count_versions_and_devices(admin: httpx.Client, fleet: Fleet) -> None:
    found = titles(admin, org_id=fleet.org)
    assert set(found) == {fleet.tool, fleet.other, fleet.evil}
    tool = found[fleet.tool]
    assert (tool["device_count"], tool["version_count"]) == (3, 3)
    assert tool["publishers"] == ["TM", "Tool Makers"] and tool["sources"] == ["dpkg"]
    assert (found[fleet.other]["device_count"], found[fleet.other]["version_count"]) == (1, 1)
    # Per site: the second site holds only device c.
    site2 = titles(admin, org_id=fleet.org, site_id=fleet.site2["id"])
    assert set(site2) == {fleet.tool} and site2[fleet.tool]["version_count"] == 2


def test_search_sort_filter_and_paging(admin: httpx.Client, fleet: Fleet) -> None:
    assert set(titles(admin, org_id=fleet.org, q="ACME")) == {fleet.other}  # publisher
    assert set(titles(admin, org_id=fleet.org, q=fleet.tool.upper())) == {fleet.tool}
    assert titles(admin, org_id=fleet.org, source="rpm") == {}
    first = ok(
        admin.get(
            "/api/v1/software", params={"org_id": fleet.org, "sort": "-device_count", "per_page": 1}
        )
    )
    assert first["items"][0]["name"] == fleet.tool
    assert (first["total"], first["pages"]) == (3, 3)
    beyond = ok(admin.get("/api/v1/software", params={"org_id": fleet.org, "page": 9}))
    assert (beyond["items"], beyond["total"]) == ([], 3)
    bad = admin.get("/api/v1/software", params={"sort": "nope"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "sort"


def test_versions_sort_like_versions(admin: httpx.Client, fleet: Fleet) -> None:
    body = ok(
        admin.get("/api/v1/software/versions", params={"name": fleet.tool, "org_id": fleet.org})
    )
    assert [(v["version"], v["device_count"]) for v in body["items"]] == [
        ("2.0", 1),
        ("1.10", 1),
        ("1.9", 2),
    ]
    up = ok(
        admin.get(
            "/api/v1/software/versions",
            params={"name": fleet.tool, "org_id": fleet.org, "sort": "version"},
        )
    )
    assert [v["version"] for v in up["items"]] == ["1.9", "1.10", "2.0"]
    missing = admin.get("/api/v1/software/versions")
    assert missing.status_code == 422


def test_devices_of_a_title(admin: httpx.Client, fleet: Fleet) -> None:
    params = {"name": fleet.tool, "org_id": fleet.org, "per_page": 200}
    rows = ok(admin.get("/api/v1/software/devices", params=params))["items"]
    got = sorted((r["device_id"], r["version"]) for r in rows)
    assert got == sorted(
        [
            (fleet.a.device_id, "1.9"),
            (fleet.b.device_id, "1.10"),
            (fleet.c.device_id, "1.9"),
            (fleet.c.device_id, "2.0"),
        ]
    )
    row = next(r for r in rows if r["device_id"] == fleet.c.device_id)
    assert row["site_id"] == fleet.site2["id"] and row["org_id"] == fleet.org
    assert row["install_date"] == "2025-03-04" and row["source"] == "dpkg"
    one = ok(admin.get("/api/v1/software/devices", params={**params, "version": "1.9"}))
    assert {r["device_id"] for r in one["items"]} == {fleet.a.device_id, fleet.c.device_id}
    paged = ok(admin.get("/api/v1/software/devices", params={**params, "per_page": 3, "page": 2}))
    assert (paged["total"], paged["pages"], len(paged["items"])) == (4, 2, 1)


def test_another_tenant_is_not_counted(admin: httpx.Client, fleet: Fleet, mailbox: Mailbox) -> None:
    viewer = make_member(admin, mailbox, role="Org Viewer", org_id=fleet.org)
    stranger = make_member(admin, mailbox, role="Org Viewer", org_id=fleet.stranger.org["id"])
    with viewer, stranger:
        mine = titles(viewer)
        assert set(mine) == {fleet.tool, fleet.other, fleet.evil}
        assert mine[fleet.tool]["device_count"] == 3
        theirs = titles(stranger)
        assert set(theirs) == {fleet.tool} and theirs[fleet.tool]["device_count"] == 1
        rows = ok(stranger.get("/api/v1/software/devices", params={"name": fleet.tool}))["items"]
        assert [r["device_id"] for r in rows] == [fleet.d.device_id]
        # Naming the other tenant's organization finds nothing rather than its data.
        assert titles(stranger, org_id=fleet.org) == {}
        text = stranger.get("/api/v1/software/export", params={"name": fleet.tool}).text
        assert fleet.a.device_id not in text and fleet.d.device_id in text


def test_decommissioned_devices_are_not_counted(server: LiveServer, admin: httpx.Client) -> None:
    tenant = make_tenant(admin)
    name = unique("g3gone")
    keep, gone = enroll(server, admin, tenant), enroll(server, admin, tenant)
    upload(keep, package(name, "1"))
    upload(gone, package(name, "2"))
    ok(admin.delete(f"/api/v1/devices/{gone.device_id}"), 204)
    found = titles(admin, org_id=tenant.org["id"])
    assert (found[name]["device_count"], found[name]["version_count"]) == (1, 1)


def read_csv(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    return list(csv.DictReader(io.StringIO(response.text)))


def test_csv_export_round_trips(admin: httpx.Client, fleet: Fleet) -> None:
    rows = read_csv(admin.get("/api/v1/software/export", params={"org_id": fleet.org}))
    assert list(rows[0]) == [
        "device_id",
        "hostname",
        "org_id",
        "site_id",
        "name",
        "version",
        "publisher",
        "source",
        "install_date",
    ]
    assert len(rows) == 6
    by_name: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_name.setdefault(row["name"], []).append(row)
    api_rows = ok(
        admin.get(
            "/api/v1/software/devices",
            params={"name": fleet.tool, "org_id": fleet.org, "per_page": 200},
        )
    )["items"]
    exported = sorted(
        (
            r["device_id"],
            r["hostname"],
            r["site_id"],
            r["version"],
            r["publisher"],
            r["install_date"],
        )
        for r in by_name[fleet.tool]
    )
    expected = sorted(
        (
            r["device_id"],
            r["hostname"],
            r["site_id"],
            r["version"],
            r["publisher"],
            r["install_date"],
        )
        for r in api_rows
    )
    assert exported == expected
    # Cells a spreadsheet would evaluate are quoted.
    (evil,) = by_name["'" + fleet.evil]
    assert (evil["version"], evil["publisher"]) == ("'-1", "'@bad")
    # Narrowed to one title and version.
    only = read_csv(
        admin.get(
            "/api/v1/software/export",
            params={"org_id": fleet.org, "name": fleet.tool, "version": "1.9"},
        )
    )
    assert sorted(r["device_id"] for r in only) == sorted([fleet.a.device_id, fleet.c.device_id])


def test_export_is_audited_and_checks_its_format(admin: httpx.Client, fleet: Fleet) -> None:
    read_csv(admin.get("/api/v1/software/export", params={"org_id": fleet.org, "q": "acme"}))
    logs = ok(
        admin.get(
            "/api/v1/audit/logs",
            params={"action": "software.export", "org_id": fleet.org, "per_page": 5},
        )
    )["items"]
    assert logs and logs[0]["details"]["q"] == "acme" and logs[0]["details"]["rows"] == 1
    bad = admin.get("/api/v1/software/export", params={"format": "xlsx"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "format"
