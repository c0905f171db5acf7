"""Enrollment keys over HTTP: shown once, stored hashed, tenant-scoped, audited."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from breeze.agents.models import EnrollmentKey
from breeze.core.security import token_hash
from tests.factories import Tenant, make_member, make_site, make_tenant, ok
from tests.integration.agents.helpers import audit_of, make_enrollment_key, run
from tests.support.mailbox import Mailbox
from tests.support.server import LiveServer

SECRETS = {"key", "key_hash", "install_command"}


def test_create_shows_the_key_once_with_an_install_command(
    admin: httpx.Client, tenant: Tenant, server: LiveServer
) -> None:
    key = make_enrollment_key(admin, tenant.org["id"], site_id=tenant.site["id"], max_uses=5)
    raw = key["key"]
    assert raw.startswith("brz_enr_") and len(raw) > 40
    assert key["prefix"] == raw[:16]
    assert key["install_command"] == (
        f"curl -fsSL {server.url}/api/v1/agents/install.sh | sudo sh -s -- "
        f"--server {server.url} --key {raw}"
    )
    assert (key["org_id"], key["partner_id"]) == (tenant.org["id"], tenant.partner["id"])
    assert (key["site_id"], key["max_uses"], key["uses"]) == (tenant.site["id"], 5, 0)
    got = ok(admin.get(f"/api/v1/enrollment-keys/{key['id']}"))
    assert not SECRETS & set(got)
    assert got == {k: v for k, v in key.items() if k not in SECRETS}
    listed = ok(admin.get("/api/v1/enrollment-keys", params={"org_id": tenant.org["id"]}))
    assert [k["id"] for k in listed["items"]] == [key["id"]]
    assert raw not in httpx.get(f"{server.url}/api/v1/enrollment-keys", headers=admin.headers).text
    stored = run(
        server, select(EnrollmentKey.key_hash).where(EnrollmentKey.prefix == key["prefix"])
    )
    assert [r[0] for r in stored] == [token_hash(raw)]


def test_update_and_revoke_are_audited(
    admin: httpx.Client, tenant: Tenant, server: LiveServer
) -> None:
    key = make_enrollment_key(admin, tenant.org["id"])
    changed = ok(
        admin.patch(
            f"/api/v1/enrollment-keys/{key['id']}",
            json={"name": "Rollout", "max_uses": 10, "expires_at": "2999-01-01T00:00:00Z"},
        )
    )
    assert (changed["name"], changed["max_uses"]) == ("Rollout", 10)
    assert changed["expires_at"].startswith("2999-01-01")
    cleared = ok(admin.patch(f"/api/v1/enrollment-keys/{key['id']}", json={"max_uses": None}))
    assert cleared["max_uses"] is None
    r = admin.patch(f"/api/v1/enrollment-keys/{key['id']}", json={"name": None})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "name"
    ok(admin.delete(f"/api/v1/enrollment-keys/{key['id']}"), 204)
    ok(admin.delete(f"/api/v1/enrollment-keys/{key['id']}"), 204)  # idempotent
    revoked = ok(admin.get(f"/api/v1/enrollment-keys/{key['id']}"))
    assert revoked["revoked_at"] is not None
    assert (
        admin.patch(f"/api/v1/enrollment-keys/{key['id']}", json={"name": "again"}).status_code
        == 409
    )
    rows = audit_of(server, key["id"])
    assert [r.action for r in rows] == [
        "enrollment_key.create",
        "enrollment_key.update",
        "enrollment_key.update",
        "enrollment_key.revoke",
    ]
    assert {str(r.org_id) for r in rows} == {tenant.org["id"]}
    assert rows[1].details["changes"]["name"] == [key["name"], "Rollout"]
    assert all("key" not in r.details for r in rows)


def test_list_filters(admin: httpx.Client, tenant: Tenant) -> None:
    other_site = make_site(admin, tenant.org["id"])
    a = make_enrollment_key(admin, tenant.org["id"], site_id=tenant.site["id"])
    b = make_enrollment_key(admin, tenant.org["id"], site_id=other_site["id"])
    c = make_enrollment_key(admin, tenant.org["id"])
    ok(admin.delete(f"/api/v1/enrollment-keys/{c['id']}"), 204)

    def ids(**params: str) -> set[str]:
        page = ok(admin.get("/api/v1/enrollment-keys", params={"per_page": 200, **params}))
        return {k["id"] for k in page["items"]}

    org = tenant.org["id"]
    assert ids(org_id=org) == {a["id"], b["id"], c["id"]}
    assert ids(org_id=org, site_id=other_site["id"]) == {b["id"]}
    assert ids(org_id=org, revoked="true") == {c["id"]}
    assert ids(org_id=org, revoked="false") == {a["id"], b["id"]}
    r = admin.get("/api/v1/enrollment-keys", params={"site_id": "nope"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "site_id"


def test_bad_input_names_the_field(admin: httpx.Client, tenant: Tenant) -> None:
    other = make_tenant(admin)
    cases = [
        ({"site_id": other.site["id"]}, "site_id"),
        ({"max_uses": 0}, "max_uses"),
        ({"expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
        ({"expires_at": "2999-01-01T00:00:00"}, "expires_at"),  # no time zone
        ({"name": ""}, "name"),
    ]
    for fields, field in cases:
        body = {"name": "k", "org_id": tenant.org["id"], **fields}
        r = admin.post("/api/v1/enrollment-keys", json=body)
        assert r.status_code == 422, (fields, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert field in {e["field"] for e in r.json()["errors"]}, r.text
    deleted = make_site(admin, tenant.org["id"])
    ok(admin.delete(f"/api/v1/sites/{deleted['id']}"), 204)
    r = admin.post(
        "/api/v1/enrollment-keys",
        json={"name": "k", "org_id": tenant.org["id"], "site_id": deleted["id"]},
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "site_id"
    key = make_enrollment_key(admin, tenant.org["id"])
    r = admin.patch(f"/api/v1/enrollment-keys/{key['id']}", json={"uses": 3})
    assert r.status_code == 422


def test_keys_are_tenant_isolated(admin: httpx.Client, mailbox: Mailbox) -> None:
    mine, theirs = make_tenant(admin), make_tenant(admin)
    their_key = make_enrollment_key(admin, theirs.org["id"])
    me = make_member(admin, mailbox, role="Org Admin", org_id=mine.org["id"])
    with me:
        own = make_enrollment_key(me, mine.org["id"])
        assert ok(me.get(f"/api/v1/enrollment-keys/{own['id']}"))["id"] == own["id"]
        path = f"/api/v1/enrollment-keys/{their_key['id']}"
        assert me.get(path).status_code == 404
        assert me.patch(path, json={"name": "mine now"}).status_code == 404
        assert me.delete(path).status_code == 404
        listed = ok(me.get("/api/v1/enrollment-keys", params={"per_page": 200}))
        assert {k["org_id"] for k in listed["items"]} == {mine.org["id"]}
        r = me.post("/api/v1/enrollment-keys", json={"name": "x", "org_id": theirs.org["id"]})
        assert r.status_code == 404
    assert ok(admin.get(f"/api/v1/enrollment-keys/{their_key['id']}"))["revoked_at"] is None


def test_a_viewer_cannot_create_keys(admin: httpx.Client, mailbox: Mailbox) -> None:
    tenant = make_tenant(admin)
    viewer = make_member(admin, mailbox, role="Org Viewer", org_id=tenant.org["id"])
    with viewer:
        r = viewer.post("/api/v1/enrollment-keys", json={"name": "x", "org_id": tenant.org["id"]})
        assert r.status_code == 403
        assert ok(viewer.get("/api/v1/enrollment-keys"))["total"] == 0
