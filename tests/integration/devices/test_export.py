"""CSV export: same rows and order as the JSON list, custom field columns, formula-safe
cells, audited, tenant-bound."""

from __future__ import annotations

import csv
import io
from datetime import datetime

import httpx
import pytest

from tests.factories import make_member, make_tenant, ok
from tests.integration.devices.agents import enroll
from tests.integration.devices.selection import audit_rows, make_field, problem_fields, set_values
from tests.support.mailbox import Mailbox
from tests.support.server import LiveServer


class Fleet:
    def __init__(self, server: LiveServer, admin: httpx.Client, mailbox: Mailbox) -> None:
        self.tenant = make_tenant(admin)
        self.org = self.tenant.org["id"]
        self.agents = [enroll(server, admin, self.tenant) for _ in range(3)]
        a, b, _ = (x.device_id for x in self.agents)
        ok(
            admin.patch(
                f"/api/v1/devices/{a}",
                json={"display_name": '=HYPERLINK("x")', "tags": ["+evil", "web"]},
            )
        )
        ok(admin.patch(f"/api/v1/devices/{b}", json={"display_name": "@SUM(1)", "tags": ["db"]}))
        make_field(admin, self.org, "owner", "text", default_value="it")
        make_field(admin, self.org, "cores", "number")
        make_field(admin, self.org, "roles", "multiselect", options=["web", "db"])
        set_values(admin, a, {"owner": "-1+2", "cores": 8, "roles": ["web", "db"]})
        self.outsider = make_member(
            admin, mailbox, role="Org Admin", org_id=make_tenant(admin).org["id"]
        )


@pytest.fixture(scope="module")
def fleet(server: LiveServer, admin: httpx.Client, mailbox: Mailbox) -> Fleet:
    return Fleet(server, admin, mailbox)


def export(api: httpx.Client, **params: str) -> list[dict[str, str]]:
    r = api.get("/api/v1/devices/export", params={"format": "csv", **params})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    return list(csv.DictReader(io.StringIO(r.text)))


def test_export_round_trips_the_list(fleet: Fleet, admin: httpx.Client) -> None:
    for sort in ("hostname", "-hostname"):
        listed = ok(admin.get("/api/v1/devices", params={"org_id": fleet.org, "sort": sort}))[
            "items"
        ]
        rows = export(admin, org_id=fleet.org, sort=sort)
        assert [r["id"] for r in rows] == [d["id"] for d in listed]
    site = fleet.tenant.site["name"]
    for row, device in zip(rows, listed, strict=True):
        assert row["hostname"] == device["hostname"] and row["status"] == device["status"]
        assert row["os_type"] == device["os_type"] and row["site"] == site
        assert row["agent_version"] == device["agent_version"]
        assert row["tags"].removeprefix("'").split(";") == (device["tags"] or [""])
        seen = device["last_seen_at"]
        assert (
            row["last_seen_at"] == ""
            if seen is None
            else _instant(row["last_seen_at"]) == _instant(seen)
        )
    header = list(rows[0])
    assert header[:12] == [
        "id", "hostname", "display_name", "status", "os_type", "os_version", "site",
        "agent_version", "last_seen_at", "tags", "primary_ip", "serial",
    ]  # fmt: skip
    assert header[12:] == ["cf:cores", "cf:owner", "cf:roles"]
    by_id = {r["id"]: r for r in rows}
    a, b, c = (x.device_id for x in fleet.agents)
    assert by_id[a]["cf:cores"] == "8" and by_id[a]["cf:roles"] == "web;db"
    assert by_id[c]["cf:owner"] == "it" and by_id[c]["cf:cores"] == ""  # default / none
    # Formula-like cells are defused with a leading quote.
    assert by_id[a]["display_name"] == '\'=HYPERLINK("x")'
    assert by_id[b]["display_name"] == "'@SUM(1)"
    assert by_id[a]["tags"] == "'+evil;web"
    assert by_id[a]["cf:owner"] == "'-1+2"
    # Filters apply as in the list; without one org_id there are no custom field columns.
    assert [r["id"] for r in export(admin, org_id=fleet.org, tag="db")] == [b]
    assert "cf:owner" not in list(export(admin, tag="db")[0])


def test_export_is_audited_and_checked(fleet: Fleet, admin: httpx.Client) -> None:
    before = len(audit_rows(admin, "device.export", org_id=fleet.org))
    export(admin, org_id=fleet.org)
    rows = audit_rows(admin, "device.export", org_id=fleet.org)
    assert len(rows) == before + 1 and rows[0]["details"]["rows"] == 3
    assert rows[0]["details"]["filters"]["org_id"] == [fleet.org]
    r = admin.get("/api/v1/devices/export", params={"format": "xlsx", "org_id": fleet.org})
    assert problem_fields(r) == ["format"]
    r = admin.get("/api/v1/devices/export", params={"sort": "nope", "org_id": fleet.org})
    assert problem_fields(r) == ["sort"]


def test_export_of_another_tenant_is_empty(fleet: Fleet) -> None:
    r = fleet.outsider.get("/api/v1/devices/export", params={"org_id": fleet.org})
    assert r.status_code == 200
    rows = list(csv.reader(io.StringIO(r.text)))
    assert len(rows) == 1 and not any(c.startswith("cf:") for c in rows[0])  # header only


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
