"""API keys over HTTP: creation, use as a credential, limits, revocation, expiry."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from breeze.core.security import token_hash
from tests.factories import Tenant, make_member, make_tenant, ok
from tests.integration.apikeys.keys import key_client, make_key
from tests.support.mailbox import Mailbox

SECRET_FIELDS = {"key", "key_hash"}


def test_create_returns_the_secret_once_and_stores_the_org_partner(
    admin: httpx.Client, tenant: Tenant
) -> None:
    key = make_key(admin, ["sites:read", "orgs:read", "orgs:read"], org_id=tenant.org["id"])
    assert key["key"].startswith("brz_")
    assert len(key["key"]) > 40
    assert key["prefix"] == key["key"][:12]
    assert key["partner_id"] == tenant.partner["id"]
    assert key["org_id"] == tenant.org["id"]
    assert key["permissions"] == ["orgs:read", "sites:read"]
    assert key["revoked_at"] is None
    assert key["last_used_at"] is None
    got = ok(admin.get(f"/api/v1/api-keys/{key['id']}"))
    assert not SECRET_FIELDS & set(got)
    assert {k: v for k, v in key.items() if k != "key"} == got


@pytest.mark.parametrize("header", ["bearer", "x-api-key"])
def test_a_key_authenticates_as_bearer_and_as_x_api_key(
    admin: httpx.Client, tenant: Tenant, header: str
) -> None:
    key = make_key(admin, ["orgs:read"], org_id=tenant.org["id"])
    with key_client(admin, key["key"], header=header) as api:
        assert ok(api.get(f"/api/v1/orgs/{tenant.org['id']}"))["id"] == tenant.org["id"]
    used = ok(admin.get(f"/api/v1/api-keys/{key['id']}"))
    assert used["last_used_at"] is not None


def test_a_read_only_key_cannot_write(admin: httpx.Client, tenant: Tenant) -> None:
    key = make_key(admin, ["orgs:read"], org_id=tenant.org["id"])
    org_id = tenant.org["id"]
    with key_client(admin, key["key"]) as api:
        assert api.post(f"/api/v1/orgs/{org_id}/sites", json={"name": "S"}).status_code == 403
        assert api.patch(f"/api/v1/orgs/{org_id}", json={"name": "Renamed"}).status_code == 403
        assert api.delete(f"/api/v1/orgs/{org_id}").status_code == 403
        assert api.get(f"/api/v1/sites/{tenant.site['id']}").status_code == 404  # no sites:read
    assert ok(admin.get(f"/api/v1/orgs/{org_id}"))["name"] == tenant.org["name"]


def test_a_key_cannot_see_another_tenant(admin: httpx.Client, tenant: Tenant) -> None:
    other = make_tenant(admin)
    partner_key = make_key(admin, ["orgs:read", "partners:read"], partner_id=tenant.partner["id"])
    with key_client(admin, partner_key["key"]) as api:
        assert api.get(f"/api/v1/orgs/{tenant.org['id']}").status_code == 200
        assert api.get(f"/api/v1/orgs/{other.org['id']}").status_code == 404
        assert api.get(f"/api/v1/partners/{other.partner['id']}").status_code == 404
        listed = ok(api.get("/api/v1/orgs", params={"per_page": 200}))
        assert {o["partner_id"] for o in listed["items"]} == {tenant.partner["id"]}
    org_key = make_key(admin, ["orgs:read"], org_id=tenant.org["id"])
    with key_client(admin, org_key["key"]) as api:
        assert api.get(f"/api/v1/orgs/{other.org['id']}").status_code == 404
        assert api.get(f"/api/v1/partners/{tenant.partner['id']}").status_code == 404


def test_revoked_key_is_refused(admin: httpx.Client, tenant: Tenant) -> None:
    key = make_key(admin, ["orgs:read"], org_id=tenant.org["id"])
    with key_client(admin, key["key"]) as api:
        ok(api.get(f"/api/v1/orgs/{tenant.org['id']}"))
        ok(admin.delete(f"/api/v1/api-keys/{key['id']}"), 204)
        r = api.get(f"/api/v1/orgs/{tenant.org['id']}")
        assert r.status_code == 401
        assert r.headers["content-type"].startswith("application/problem+json")
    revoked = ok(admin.get(f"/api/v1/api-keys/{key['id']}"))
    assert revoked["revoked_at"] is not None
    ok(admin.delete(f"/api/v1/api-keys/{key['id']}"), 204)  # idempotent
    assert ok(admin.get(f"/api/v1/api-keys/{key['id']}"))["revoked_at"] == revoked["revoked_at"]
    assert admin.patch(f"/api/v1/api-keys/{key['id']}", json={"name": "x"}).status_code == 409


def test_expired_key_is_refused(admin: httpx.Client, tenant: Tenant) -> None:
    expires = datetime.now(UTC) + timedelta(seconds=3)
    key = make_key(admin, ["orgs:read"], org_id=tenant.org["id"], expires_at=expires.isoformat())
    assert datetime.fromisoformat(key["expires_at"]) == expires
    with key_client(admin, key["key"]) as api:
        ok(api.get(f"/api/v1/orgs/{tenant.org['id']}"))
        time.sleep(max(0.0, (expires - datetime.now(UTC)).total_seconds()) + 0.3)
        r = api.get(f"/api/v1/orgs/{tenant.org['id']}")
        assert r.status_code == 401
        assert "expired" in r.json()["detail"]


def test_unknown_keys_are_refused(anon: httpx.Client) -> None:
    for headers in ({"Authorization": "Bearer brz_nope"}, {"X-API-Key": "brz_nope"}):
        assert anon.get("/api/v1/orgs", headers=headers).status_code == 401


def test_lists_never_show_the_secret(admin: httpx.Client, tenant: Tenant) -> None:
    key = make_key(admin, ["orgs:read"], partner_id=tenant.partner["id"])
    r = admin.get("/api/v1/api-keys", params={"partner_id": tenant.partner["id"]})
    page = ok(r)
    assert [k["id"] for k in page["items"]] == [key["id"]]
    assert key["key"] not in r.text
    assert token_hash(key["key"]) not in r.text
    assert all(not SECRET_FIELDS & set(item) for item in page["items"])


def test_list_filters_and_rename(admin: httpx.Client, tenant: Tenant) -> None:
    pid = tenant.partner["id"]
    partner_key = make_key(admin, ["orgs:read"], partner_id=pid)
    org_key = make_key(admin, ["orgs:read"], org_id=tenant.org["id"])
    gone = make_key(admin, ["orgs:read"], org_id=tenant.org["id"])
    ok(admin.delete(f"/api/v1/api-keys/{gone['id']}"), 204)

    def ids(**params: str) -> set[str]:
        page = ok(admin.get("/api/v1/api-keys", params={"partner_id": pid, **params}))
        return {k["id"] for k in page["items"]}

    assert ids() == {partner_key["id"], org_key["id"], gone["id"]}
    assert ids(org_id=tenant.org["id"]) == {org_key["id"], gone["id"]}
    assert ids(revoked="true") == {gone["id"]}
    assert ids(revoked="false") == {partner_key["id"], org_key["id"]}
    assert ids(q=org_key["prefix"]) == {org_key["id"]}
    renamed = ok(admin.patch(f"/api/v1/api-keys/{org_key['id']}", json={"name": "CI runner"}))
    assert renamed["name"] == "CI runner"
    assert ids(q="ci runner") == {org_key["id"]}
    r = admin.patch(f"/api/v1/api-keys/{org_key['id']}", json={"name": None})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "name"


def test_keys_of_another_tenant_are_hidden(admin: httpx.Client, tenant: Tenant) -> None:
    other = make_tenant(admin)
    theirs = make_key(admin, ["orgs:read"], org_id=other.org["id"])
    mine = make_key(admin, ["orgs:read"], org_id=tenant.org["id"])
    reader = make_key(admin, ["api_keys:read", "api_keys:delete"], partner_id=tenant.partner["id"])
    with key_client(admin, reader["key"]) as api:
        listed = ok(api.get("/api/v1/api-keys", params={"per_page": 200}))
        assert {k["partner_id"] for k in listed["items"]} == {tenant.partner["id"]}
        assert mine["id"] in {k["id"] for k in listed["items"]}
        assert api.get(f"/api/v1/api-keys/{theirs['id']}").status_code == 404
        assert api.delete(f"/api/v1/api-keys/{theirs['id']}").status_code == 404
        assert api.patch(f"/api/v1/api-keys/{mine['id']}", json={"name": "x"}).status_code == 403
        ok(api.delete(f"/api/v1/api-keys/{mine['id']}"), 204)
    assert ok(admin.get(f"/api/v1/api-keys/{theirs['id']}"))["revoked_at"] is None


def test_a_key_cannot_create_keys(admin: httpx.Client, tenant: Tenant) -> None:
    key = make_key(admin, ["api_keys:read", "api_keys:write"], partner_id=tenant.partner["id"])
    with key_client(admin, key["key"]) as api:
        r = api.post(
            "/api/v1/api-keys",
            json={
                "name": "child",
                "partner_id": tenant.partner["id"],
                "permissions": ["orgs:read"],
            },
        )
        assert r.status_code == 403


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"permissions": ["orgs:read", "orgs:fly"]}, "permissions"),
        ({"permissions": []}, "permissions"),
        ({"permissions": "orgs:read"}, "permissions"),
        ({"expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
        ({"expires_at": "2999-01-01T00:00:00"}, "expires_at"),  # no time zone
        ({"name": ""}, "name"),
        ({"name": "n" * 101}, "name"),
        ({"colour": "red"}, "colour"),
        ({"org_id": None, "partner_id": None}, "partner_id"),
        ({"partner_id": "PARTNER"}, "org_id"),  # both partner and org
        ({"partner_id": "not-a-uuid"}, "partner_id"),
    ],
)
def test_bad_input_names_the_field(
    admin: httpx.Client, tenant: Tenant, change: dict[str, object], field: str
) -> None:
    body: dict[str, object] = {
        "name": "k",
        "org_id": tenant.org["id"],
        "permissions": ["orgs:read"],
    }
    body.update(change)
    if body.get("partner_id") == "PARTNER":
        body["partner_id"] = tenant.partner["id"]
    r = admin.post("/api/v1/api-keys", json=body)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"][0]["field"] == field


def test_unknown_places_and_ids_are_404(admin: httpx.Client) -> None:
    missing = "00000000-0000-0000-0000-000000000000"
    for place in ("partner_id", "org_id"):
        body = {"name": "k", place: missing, "permissions": ["orgs:read"]}
        assert admin.post("/api/v1/api-keys", json=body).status_code == 404
    assert admin.get(f"/api/v1/api-keys/{missing}").status_code == 404
    assert admin.delete(f"/api/v1/api-keys/{missing}").status_code == 404
    assert admin.get("/api/v1/api-keys/not-a-uuid").status_code == 422


def test_key_changes_are_audited_without_the_secret(admin: httpx.Client, tenant: Tenant) -> None:
    key = make_key(admin, ["orgs:read"], org_id=tenant.org["id"])
    ok(admin.patch(f"/api/v1/api-keys/{key['id']}", json={"name": "renamed"}))
    ok(admin.delete(f"/api/v1/api-keys/{key['id']}"), 204)
    r = admin.get("/api/v1/audit/logs", params={"resource_id": key["id"], "sort": "seq"})
    rows = ok(r)["items"]
    assert [row["action"] for row in rows] == ["api_key.create", "api_key.update", "api_key.revoke"]
    assert all(row["org_id"] == tenant.org["id"] for row in rows)
    assert rows[0]["details"]["permissions"] == ["orgs:read"]
    assert key["key"] not in r.text
    assert token_hash(key["key"]) not in r.text


def test_members_cannot_give_a_key_more_than_they_hold(
    admin: httpx.Client, mailbox: Mailbox, tenant: Tenant
) -> None:
    org_id = tenant.org["id"]
    org_admin = make_member(admin, mailbox, role="Org Admin", org_id=org_id)
    tech = make_member(admin, mailbox, role="Org Technician", org_id=org_id)
    try:
        key = make_key(org_admin, ["orgs:read", "sites:read"], org_id=org_id)
        assert key["user_id"] == ok(org_admin.get("/api/v1/auth/me"))["id"]
        body = {"name": "k", "org_id": org_id, "permissions": ["orgs:read", "orgs:delete"]}
        r = org_admin.post("/api/v1/api-keys", json=body)
        assert r.status_code == 403
        assert "orgs:delete" in r.json()["detail"]
        body = {"name": "k", "partner_id": tenant.partner["id"], "permissions": ["orgs:read"]}
        assert org_admin.post("/api/v1/api-keys", json=body).status_code == 404
        body = {"name": "k", "org_id": org_id, "permissions": ["orgs:read"]}
        assert tech.post("/api/v1/api-keys", json=body).status_code == 403  # no api_keys:write
        with key_client(admin, key["key"]) as api:
            assert ok(api.get(f"/api/v1/orgs/{org_id}"))["id"] == org_id
    finally:
        org_admin.close()
        tech.close()
