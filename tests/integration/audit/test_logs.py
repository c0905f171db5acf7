"""The audit log API: rows written by actions, filters, time range, paging, tenancy.

Without audit:read a caller gets an empty page (restrict() selects nothing), not a
403: the list is the same endpoint for everyone and shows only what one may read.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.factories import Tenant, make_member, make_org, make_site, make_tenant, ok
from tests.integration.apikeys.keys import key_client, make_key
from tests.support.mailbox import Mailbox
from tests.support.server import ADMIN_EMAIL

LOGS = "/api/v1/audit/logs"


def _rows(api: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    page = ok(api.get(LOGS, params={"per_page": 200, "sort": "seq", **params}))
    assert page["total"] == len(page["items"]), "more rows than one page"
    items: list[dict[str, Any]] = page["items"]
    return items


def test_writes_create_rows(admin: httpx.Client) -> None:
    tenant = make_tenant(admin)
    rows = _rows(admin, resource_id=tenant.org["id"])
    assert [r["action"] for r in rows] == ["org.create"]
    row = rows[0]
    assert row["actor_email"] == ADMIN_EMAIL
    assert row["actor_type"] == "user"
    assert row["resource_type"] == "organization"
    assert row["resource_name"] == tenant.org["name"]
    assert row["partner_id"] == tenant.partner["id"]
    assert row["org_id"] == tenant.org["id"]
    assert row["result"] == "success"
    assert row["ip_address"] == "127.0.0.1"
    assert len(row["checksum"]) == 64
    assert len(row["prev_checksum"]) == 64
    assert row["seq"] > 0


def test_filters(admin: httpx.Client, tenant: Tenant) -> None:
    pid = tenant.partner["id"]
    second = make_org(admin, pid)
    make_site(admin, second["id"])
    ok(admin.patch(f"/api/v1/orgs/{second['id']}", json={"status": "trial"}))

    def actions(**params: Any) -> list[str]:
        return [r["action"] for r in _rows(admin, partner_id=pid, **params)]

    everything = actions()
    assert everything == [
        "partner.create",
        "org.create",
        "site.create",
        "org.create",
        "site.create",
        "org.update",
    ]
    assert actions(action="org.create") == ["org.create", "org.create"]
    assert actions(action="org.*") == ["org.create", "org.create", "org.update"]
    assert actions(action="site.*,partner.create") == [
        "partner.create",
        "site.create",
        "site.create",
    ]
    assert actions(action="org.") == []
    assert actions(org_id=second["id"]) == ["org.create", "site.create", "org.update"]
    assert actions(actor_type="user", result="success") == everything
    assert actions(actor_type="agent") == []
    assert actions(actor_email=ADMIN_EMAIL) == everything
    assert actions(result="failure") == []
    assert actions(resource_type="site") == ["site.create", "site.create"]
    assert actions(q=second["name"].lower()) == ["org.create", "org.update"]
    assert actions(q="org.upd") == ["org.update"]
    actor_id = _rows(admin, partner_id=pid)[0]["actor_id"]
    assert actions(actor_id=actor_id) == everything
    newest_first = _rows(admin, partner_id=pid, sort="-timestamp")
    assert [r["action"] for r in newest_first] == everything[::-1]
    assert ok(admin.get(LOGS, params={"partner_id": pid}))["items"] == newest_first  # default


def test_time_range(admin: httpx.Client, tenant: Tenant) -> None:
    pid = tenant.partner["id"]
    rows = _rows(admin, partner_id=pid)
    assert len(rows) == 3
    middle = datetime.fromisoformat(rows[1]["timestamp"])
    tick = timedelta(microseconds=1)

    def seqs(**params: Any) -> list[int]:
        return [r["seq"] for r in _rows(admin, partner_id=pid, **params)]

    assert seqs(**{"from": middle.isoformat()}) == [rows[1]["seq"], rows[2]["seq"]]
    assert seqs(to=middle.isoformat()) == [rows[0]["seq"]]  # `to` is exclusive
    assert seqs(**{"from": middle.isoformat(), "to": (middle + tick).isoformat()}) == [
        rows[1]["seq"]
    ]
    later = (middle + timedelta(days=1)).replace(tzinfo=None).isoformat()  # naive: UTC
    assert seqs(**{"from": later}) == []
    assert seqs(to=later) == [r["seq"] for r in rows]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2030-01-02T00:00:00Z", "to": "2030-01-01T00:00:00Z"}, "from"),
        ({"from": "yesterday"}, "from"),
        ({"action": "org*"}, "action"),
        ({"actor_id": "nobody"}, "actor_id"),
        ({"partner_id": "x"}, "partner_id"),
        ({"sort": "checksum"}, "sort"),
        ({"per_page": "0"}, "per_page"),
    ],
)
def test_bad_parameters_name_the_parameter(
    admin: httpx.Client, params: dict[str, str], field: str
) -> None:
    r = admin.get(LOGS, params=params)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert field in r.json()["errors"][0]["field"]


def test_pagination(admin: httpx.Client, tenant: Tenant) -> None:
    pid = tenant.partner["id"]
    for _ in range(4):
        make_site(admin, tenant.org["id"])
    everything = _rows(admin, partner_id=pid)
    assert len(everything) == 7
    seen: list[dict[str, Any]] = []
    for page_no in (1, 2, 3):
        page = ok(
            admin.get(
                LOGS, params={"partner_id": pid, "sort": "seq", "per_page": 3, "page": page_no}
            )
        )
        assert page["total"] == 7
        assert page["pages"] == 3
        assert page["page"] == page_no
        seen.extend(page["items"])
    assert seen == everything
    assert [r["seq"] for r in seen] == sorted(r["seq"] for r in seen)
    beyond = ok(admin.get(LOGS, params={"partner_id": pid, "per_page": 3, "page": 4}))
    assert beyond["items"] == []


def test_a_key_of_one_tenant_sees_only_that_tenant(admin: httpx.Client, tenant: Tenant) -> None:
    other = make_tenant(admin)
    key = make_key(admin, ["audit:read"], partner_id=other.partner["id"])
    with key_client(admin, key["key"]) as api:
        page = ok(api.get(LOGS, params={"per_page": 200}))
        assert page["total"] >= 3
        assert {r["partner_id"] for r in page["items"]} == {other.partner["id"]}
        hidden = ok(api.get(LOGS, params={"resource_id": tenant.org["id"]}))
        assert hidden["total"] == 0
        assert ok(api.get(LOGS, params={"partner_id": tenant.partner["id"]}))["total"] == 0


def test_without_audit_read_the_page_is_empty(admin: httpx.Client, tenant: Tenant) -> None:
    key = make_key(admin, ["orgs:read", "sites:read"], org_id=tenant.org["id"])
    with key_client(admin, key["key"]) as api:
        page = ok(api.get(LOGS))
        assert page["items"] == []
        assert page["total"] == 0


def test_members_see_only_their_tenant(
    admin: httpx.Client, mailbox: Mailbox, tenant: Tenant
) -> None:
    other = make_tenant(admin)
    org_admin = make_member(admin, mailbox, role="Org Admin", org_id=other.org["id"])
    viewer = make_member(admin, mailbox, role="Org Viewer", org_id=tenant.org["id"])
    try:
        rows = ok(org_admin.get(LOGS, params={"per_page": 200}))["items"]
        assert rows
        assert {r["org_id"] for r in rows} == {other.org["id"]}
        assert ok(org_admin.get(LOGS, params={"resource_id": tenant.org["id"]}))["total"] == 0
        assert ok(viewer.get(LOGS))["total"] == 0
    finally:
        org_admin.close()
        viewer.close()


def test_verify_endpoint_is_for_platform_admins(admin: httpx.Client, tenant: Tenant) -> None:
    result = ok(admin.get("/api/v1/audit/verify"))
    assert result["ok"] is True
    assert result["rows_checked"] > 0
    assert result["first_bad_seq"] is None
    assert result["message"] == f"audit chain intact: {result['rows_checked']} rows"
    key = make_key(admin, ["audit:read", "audit:export"], partner_id=tenant.partner["id"])
    with key_client(admin, key["key"]) as api:
        assert api.get("/api/v1/audit/verify").status_code == 403
