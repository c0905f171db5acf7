"""Audit exports: CSV and JSON carry exactly the rows the list shows."""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

import httpx

from tests.factories import Tenant, make_org, make_site, make_tenant, ok
from tests.integration.apikeys.keys import key_client, make_key

EXPORT = "/api/v1/audit/logs/export"


def _listed(api: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    page = ok(api.get("/api/v1/audit/logs", params={"per_page": 200, "sort": "seq", **params}))
    items: list[dict[str, Any]] = page["items"]
    return items


def _busy_tenant(admin: httpx.Client, tenant: Tenant) -> None:
    org = make_org(admin, tenant.partner["id"], name='=HYPERLINK("x")')
    make_site(admin, org["id"])
    ok(admin.patch(f"/api/v1/orgs/{org['id']}", json={"settings": {"a": [1, 2], "b": "ü"}}))


def _attachment(r: httpx.Response, ext: str) -> None:
    disposition = r.headers["content-disposition"]
    assert re.fullmatch(
        rf'attachment; filename="breeze-audit-\d{{8}}T\d{{6}}Z\.{ext}"', disposition
    )


def test_json_export_round_trips(admin: httpx.Client, tenant: Tenant) -> None:
    _busy_tenant(admin, tenant)
    listed = _listed(admin, partner_id=tenant.partner["id"])
    r = admin.get(EXPORT, params={"format": "json", "partner_id": tenant.partner["id"]})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    _attachment(r, "json")
    assert json.loads(r.text) == listed
    only_orgs = admin.get(
        EXPORT, params={"format": "json", "partner_id": tenant.partner["id"], "action": "org.*"}
    )
    assert json.loads(only_orgs.text) == [row for row in listed if row["action"].startswith("org.")]


def test_csv_export_round_trips(admin: httpx.Client, tenant: Tenant) -> None:
    _busy_tenant(admin, tenant)
    listed = _listed(admin, partner_id=tenant.partner["id"])
    r = admin.get(EXPORT, params={"format": "csv", "partner_id": tenant.partner["id"]})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    _attachment(r, "csv")
    reader = csv.DictReader(io.StringIO(r.text))
    assert reader.fieldnames is not None
    assert set(reader.fieldnames) == set(listed[0])
    exported = list(reader)
    assert len(exported) == len(listed)
    for got, want in zip(exported, listed, strict=True):
        for name, value in want.items():
            cell = got[name]
            if name == "details":
                assert json.loads(cell) == value
            elif value is None:
                assert cell == ""
            elif isinstance(value, str) and value.startswith("="):
                assert cell == "'" + value  # defused for spreadsheets
            else:
                assert cell == str(value), name


def test_csv_is_the_default_and_empty_exports_are_valid(admin: httpx.Client) -> None:
    tenant = make_tenant(admin)
    r = admin.get(EXPORT, params={"partner_id": tenant.partner["id"], "action": "nothing.*"})
    assert r.status_code == 200
    assert next(iter(csv.reader(io.StringIO(r.text))))[:3] == ["id", "seq", "timestamp"]
    assert len(list(csv.reader(io.StringIO(r.text)))) == 1
    r = admin.get(EXPORT, params={"format": "json", "action": "nothing.*"})
    assert json.loads(r.text) == []


def test_unsupported_format_and_bad_filters_are_422(admin: httpx.Client) -> None:
    r = admin.get(EXPORT, params={"format": "xml"})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "format"
    r = admin.get(EXPORT, params={"from": "2030-01-02T00:00:00Z", "to": "2030-01-01T00:00:00Z"})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "from"


def test_export_needs_audit_export(admin: httpx.Client, tenant: Tenant) -> None:
    reader = make_key(admin, ["audit:read"], partner_id=tenant.partner["id"])
    with key_client(admin, reader["key"]) as api:
        assert ok(api.get("/api/v1/audit/logs"))["total"] > 0
        r = api.get(EXPORT)
        assert r.status_code == 403
        assert r.headers["content-type"].startswith("application/problem+json")
    exporter = make_key(admin, ["audit:read", "audit:export"], org_id=tenant.org["id"])
    other = make_tenant(admin)
    with key_client(admin, exporter["key"]) as api:
        rows = json.loads(api.get(EXPORT, params={"format": "json"}).text)
        assert rows
        assert {row["org_id"] for row in rows} == {tenant.org["id"]}
        assert other.org["id"] not in {row["resource_id"] for row in rows}
