"""The permission catalog, built-in roles and custom roles over HTTP."""

from __future__ import annotations

from typing import Any

import httpx

from tests.factories import (
    MEMBER_PASSWORD,
    Tenant,
    client,
    make_member,
    make_tenant,
    ok,
    role_id,
    unique,
)
from tests.integration.users.dbtools import audit_rows
from tests.support.mailbox import Mailbox
from tests.support.server import LiveServer

ROLES = "/api/v1/roles"


def _role(api: httpx.Client, status: int = 201, **body: Any) -> Any:
    payload = {"name": unique("Role"), "scope": "organization", "permissions": [], **body}
    r = api.post(ROLES, json=payload)
    return ok(r, status) if status < 300 else r


def _invite(api: httpx.Client, role: dict[str, Any], org_id: str) -> str:
    """Invite a new user into an organization with a (custom) role; their email."""
    email = f"{unique('cr')}@example.com"
    body = {"email": email, "org_id": org_id, "role_id": role["id"]}
    ok(api.post("/api/v1/users", json=body), 201)
    return email


def _member(
    admin: httpx.Client, mailbox: Mailbox, role: dict[str, Any], org_id: str
) -> httpx.Client:
    """A signed-in member of an organization holding a (custom) role."""
    token = mailbox.token_for(_invite(admin, role, org_id), subject="invitation")
    body = {"token": token, "password": MEMBER_PASSWORD}
    pair = ok(httpx.post(f"{admin.base_url}/api/v1/auth/accept-invitation", json=body))
    return client(str(admin.base_url), pair["access_token"])


def _field(r: httpx.Response, status: int, field: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert field in [e["field"] for e in r.json()["errors"]], r.text


def test_permission_catalog(admin: httpx.Client, anon: httpx.Client) -> None:
    catalog = ok(admin.get("/api/v1/permissions"))
    names = [p["name"] for p in catalog]
    assert "devices:read" in names and "roles:write" in names and len(names) == len(set(names))
    entry = next(p for p in catalog if p["name"] == "devices:execute")
    assert entry == {
        "resource": "devices",
        "action": "execute",
        "name": "devices:execute",
        "description": entry["description"],
    }
    assert entry["description"]
    assert anon.get("/api/v1/permissions").status_code == 401


def test_built_in_roles_are_listed_and_immutable(
    admin: httpx.Client, mailbox: Mailbox, tenant: Tenant
) -> None:
    builtins = ok(admin.get(ROLES, params={"is_system": "true", "per_page": 200}))["items"]
    assert {r["name"] for r in builtins} >= {"Partner Admin", "Org Admin", "Org Viewer"}
    viewer = next(r for r in builtins if r["name"] == "Org Viewer")
    assert viewer["scope"] == "organization" and viewer["partner_id"] is None
    assert "orgs:read" in viewer["permissions"] and viewer["permissions"] == sorted(
        viewer["permissions"]
    )
    for call in (
        lambda: admin.patch(f"{ROLES}/{viewer['id']}", json={"name": "Mine"}),
        lambda: admin.delete(f"{ROLES}/{viewer['id']}"),
    ):
        r = call()
        assert r.status_code == 403 and r.json()["detail"] == "Built-in roles cannot be changed"
    # Every signed-in user sees the built-in roles.
    member = make_member(admin, mailbox, role="Org Viewer", org_id=tenant.org["id"])
    assert ok(member.get(f"{ROLES}/{viewer['id']}"))["name"] == "Org Viewer"


def test_custom_role_lifecycle(admin: httpx.Client, tenant: Tenant, server: LiveServer) -> None:
    pid = tenant.partner["id"]
    name = unique("Helpdesk")
    role = _role(
        admin,
        name=name,
        description="First line",
        partner_id=pid,
        permissions=["sites:read", "orgs:read", "orgs:read"],
    )
    assert role["partner_id"] == pid and role["org_id"] is None and not role["is_system"]
    assert role["permissions"] == ["orgs:read", "sites:read"]
    assert ok(admin.get(f"{ROLES}/{role['id']}")) == role
    listed = ok(admin.get(ROLES, params={"partner_id": pid}))["items"]
    assert [r["id"] for r in listed] == [role["id"]]

    changed = ok(
        admin.patch(
            f"{ROLES}/{role['id']}",
            json={"name": name + " L1", "permissions": ["orgs:read", "devices:read"]},
        )
    )
    assert changed["name"] == name + " L1"
    assert changed["permissions"] == ["devices:read", "orgs:read"]
    assert changed["description"] == "First line"

    ok(admin.delete(f"{ROLES}/{role['id']}"), 204)
    assert admin.get(f"{ROLES}/{role['id']}").status_code == 404
    rows = audit_rows(server, role["id"])
    assert [r["action"] for r in rows] == ["role.create", "role.update", "role.delete"]
    assert rows[0]["details"]["permissions"] == ["orgs:read", "sites:read"]
    assert rows[1]["details"]["permissions"] == {
        "added": ["devices:read"],
        "removed": ["sites:read"],
    }
    assert all(r["partner_id"] == pid for r in rows)


def test_org_roles_belong_to_the_org_and_its_partner(admin: httpx.Client, tenant: Tenant) -> None:
    oid = tenant.org["id"]
    role = _role(admin, org_id=oid, permissions=["orgs:read"])
    assert role["org_id"] == oid and role["partner_id"] == tenant.partner["id"]
    _field(_role(admin, 422, org_id=oid, scope="partner"), 422, "scope")


def test_bad_role_input_names_the_field(admin: httpx.Client, tenant: Tenant) -> None:
    pid = tenant.partner["id"]
    _field(
        _role(admin, 422, partner_id=pid, permissions=["orgs:read", "orgs:fly"]), 422, "permissions"
    )
    _field(_role(admin, 422, partner_id=pid, permissions="orgs:read"), 422, "permissions")
    _field(_role(admin, 422, partner_id=pid, scope="system"), 422, "scope")
    _field(_role(admin, 422, partner_id=pid, name=""), 422, "name")
    _field(_role(admin, 422, partner_id=pid, name="nul\x00byte"), 422, "name")
    _field(_role(admin, 422, partner_id=pid, description="nul\x00"), 422, "description")
    _field(_role(admin, 422), 422, "partner_id")
    _field(_role(admin, 422, partner_id=pid, org_id=tenant.org["id"]), 422, "org_id")
    _field(_role(admin, 422, partner_id=pid, colour="red"), 422, "colour")
    existing = _role(admin, partner_id=pid)
    _field(
        admin.patch(f"{ROLES}/{existing['id']}", json={"permissions": ["nope:nope"]}),
        422,
        "permissions",
    )
    _field(admin.patch(f"{ROLES}/{existing['id']}", json={"name": None}), 422, "name")
    # Names are unique per owner (case-insensitive) and never shadow a built-in role.
    _field(_role(admin, 409, partner_id=pid, name=existing["name"].upper()), 409, "name")
    _field(_role(admin, 409, partner_id=pid, name="org admin"), 409, "name")
    other = _role(admin, partner_id=pid)
    _field(admin.patch(f"{ROLES}/{other['id']}", json={"name": existing["name"]}), 409, "name")
    _role(admin, partner_id=make_tenant(admin).partner["id"], name=existing["name"])
    assert admin.get(f"{ROLES}/00000000-0000-0000-0000-000000000000").status_code == 404


def test_a_role_in_use_cannot_be_deleted(admin: httpx.Client, tenant: Tenant) -> None:
    role = _role(admin, partner_id=tenant.partner["id"], permissions=["orgs:read"])
    user = ok(
        admin.post(
            "/api/v1/users",
            json={
                "email": f"{unique('r')}@example.com",
                "org_id": tenant.org["id"],
                "role_id": role_id(admin, "Org Viewer"),
            },
        ),
        201,
    )
    ok(
        admin.put(
            f"/api/v1/users/{user['id']}/membership",
            json={"org_id": tenant.org["id"], "role_id": role["id"]},
        )
    )
    r = admin.delete(f"{ROLES}/{role['id']}")
    assert r.status_code == 409 and "assigned" in r.json()["detail"]
    ok(
        admin.delete(f"/api/v1/users/{user['id']}/membership", params={"org_id": tenant.org["id"]}),
        204,
    )
    ok(admin.delete(f"{ROLES}/{role['id']}"), 204)


def test_a_custom_role_grants_exactly_its_permissions(
    admin: httpx.Client, mailbox: Mailbox, tenant: Tenant
) -> None:
    oid = tenant.org["id"]
    reader = _role(admin, org_id=oid, name=unique("Reader"), permissions=["orgs:read"])
    member = _member(admin, mailbox, reader, oid)
    assert ok(member.get(f"/api/v1/orgs/{oid}"))["id"] == oid
    r = member.post(f"/api/v1/orgs/{oid}/sites", json={"name": "Nope"})
    assert r.status_code == 403 and "sites:write" in r.json()["detail"]
    assert ok(member.get("/api/v1/sites"))["items"] == []
    # Changing the role changes what its holders may do, at once.
    ok(admin.patch(f"{ROLES}/{reader['id']}", json={"permissions": ["orgs:read", "sites:write"]}))
    ok(member.post(f"/api/v1/orgs/{oid}/sites", json={"name": unique("Site")}), 201)


def test_org_admins_manage_roles_of_their_org_within_their_own_permissions(
    admin: httpx.Client, mailbox: Mailbox, tenant: Tenant
) -> None:
    oid, pid = tenant.org["id"], tenant.partner["id"]
    boss = make_member(admin, mailbox, role="Org Admin", org_id=oid)
    mine = _role(boss, org_id=oid, permissions=["devices:read", "devices:execute"])
    assert mine["partner_id"] == pid
    r = _role(boss, 403, org_id=oid, permissions=["orgs:delete"])
    assert r.status_code == 403 and "orgs:delete" in r.json()["detail"]
    r = boss.patch(f"{ROLES}/{mine['id']}", json={"permissions": ["partners:write"]})
    assert r.status_code == 403
    assert _role(boss, 404, partner_id=pid).status_code == 404
    # The partner's organization-wide roles are visible (and assignable) in the org...
    shared = _role(admin, partner_id=pid, permissions=["orgs:read"])
    seen = {x["id"] for x in ok(boss.get(ROLES, params={"per_page": 200}))["items"]}
    assert {mine["id"], shared["id"]} <= seen
    _invite(boss, shared, oid)
    # ...but only the partner may change them.
    assert boss.patch(f"{ROLES}/{shared['id']}", json={"name": "Mine"}).status_code == 403
    partner_only = _role(admin, partner_id=pid, scope="partner", permissions=["orgs:read"])
    assert boss.get(f"{ROLES}/{partner_only['id']}").status_code == 404
    # Roles of another tenant are invisible.
    other = make_tenant(admin)
    theirs = _role(admin, org_id=other.org["id"], permissions=["orgs:read"])
    assert boss.get(f"{ROLES}/{theirs['id']}").status_code == 404
    assert boss.delete(f"{ROLES}/{theirs['id']}").status_code == 404
    assert theirs["id"] not in seen
    r = boss.post(
        "/api/v1/users",
        json={"email": f"{unique('t')}@example.com", "org_id": oid, "role_id": theirs["id"]},
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "role_id"
    ok(boss.delete(f"{ROLES}/{mine['id']}"), 204)
    assert role_id(boss, "Org Viewer")
