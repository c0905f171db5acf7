"""The roles pages over HTTP: built-in roles read-only, the permission matrix creating and
editing a custom role, the delegation limit refused with the server's words, isolation."""

from __future__ import annotations

import re

import httpx

from tests.factories import Tenant, make_tenant, ok, unique
from tests.integration.web.settings.test_users import console_as, member_console, session_csrf
from tests.support.mailbox import Mailbox
from tests.support.server import LiveServer


def test_builtin_roles_are_listed_and_read_only(server: LiveServer, admin: httpx.Client) -> None:
    viewer_id = next(
        r["id"]
        for r in ok(admin.get("/api/v1/roles", params={"is_system": "true"}))["items"]
        if r["name"] == "Org Viewer"
    )
    with console_as(server) as c:
        r = c.get("/settings/roles")
        assert r.status_code == 200
        for name in ("Partner Admin", "Org Admin", "Org Technician", "Org Viewer"):
            assert name in r.text
        r = c.get(f"/settings/roles/{viewer_id}")
    assert r.status_code == 200
    assert "Built-in · read-only" in r.text
    assert 'type="checkbox"' not in r.text  # nothing to tick on a built-in role
    assert "Devices: read: granted" in r.text
    assert "Scripts: execute: not granted" in r.text
    assert "Remote access: execute: not granted" in r.text


def test_custom_role_is_created_and_edited_with_the_matrix(
    server: LiveServer, admin: httpx.Client, tenant: Tenant
) -> None:
    org = tenant.org["id"]
    name = unique("Helpdesk")
    with console_as(server) as c:
        page = c.get(f"/settings/roles/new?org={org}")
        assert page.status_code == 200
        # One labelled checkbox per permission of the catalog.
        assert 'aria-label="Devices: execute"' in page.text
        assert 'aria-label="Audit: export"' in page.text
        token = session_csrf(c)
        r = c.post(
            f"/settings/roles/new?org={org}",
            data={
                "csrf_token": token,
                "name": "",
                "owner": f"org:{org}",
                "permissions": ["devices:read", "scripts:read"],
            },
        )
        assert r.status_code == 422
        assert 'id="f-name-error"' in r.text
        assert re.search(r'value="scripts:read"[^>]*checked', r.text)  # choices kept
        r = c.post(
            f"/settings/roles/new?org={org}",
            data={
                "csrf_token": token,
                "name": name,
                "description": "First line",
                "owner": f"org:{org}",
                "permissions": ["devices:read", "scripts:read", "scripts:execute"],
            },
        )
        assert r.status_code == 303, r.text
        role_path = r.headers["location"].split("?")[0]
        role_id = role_path.rsplit("/", 1)[1]
        got = ok(admin.get(f"/api/v1/roles/{role_id}"))
        assert got["org_id"] == org and got["scope"] == "organization"
        assert got["permissions"] == ["devices:read", "scripts:execute", "scripts:read"]
        r = c.post(
            role_path,
            data={
                "csrf_token": token,
                "name": name,
                "description": "",
                "permissions": ["devices:read", "devices:execute"],
            },
        )
        assert r.status_code == 303, r.text
        assert ok(admin.get(f"/api/v1/roles/{role_id}"))["permissions"] == [
            "devices:execute",
            "devices:read",
        ]
        r = c.get(f"/settings/roles?org={org}")
        assert name in r.text
        # The role is offered when inviting into that organization, and can be deleted.
        r = c.get(f"/settings/users/membership-fields?place=org:{org}")
        assert name in r.text
        r = c.post(f"{role_path}/delete", data={"csrf_token": token})
        assert r.status_code == 303
    assert admin.get(f"/api/v1/roles/{role_id}").status_code == 404


def test_delegation_limit_is_marked_and_the_refusal_shown(
    server: LiveServer, admin: httpx.Client, mailbox: Mailbox, tenant: Tenant
) -> None:
    org = tenant.org["id"]
    org_admin = member_console(server, admin, mailbox, role="Org Admin", org_id=org)
    page = org_admin.get("/settings/roles/new")
    assert page.status_code == 200
    # An Org Admin does not hold partners:read nor orgs:delete: those cells are marked.
    cell = re.search(r'<td class="perm-not-held">\s*<input[^>]*value="orgs:delete"', page.text)
    assert cell, "the permissions the user lacks are marked in the matrix"
    r = org_admin.post(
        "/settings/roles/new",
        data={
            "csrf_token": session_csrf(org_admin),
            "name": unique("Too much"),
            "owner": f"org:{org}",
            "permissions": ["devices:read", "orgs:delete"],
        },
    )
    assert r.status_code == 403
    assert "You cannot grant permissions you do not hold here: orgs:delete" in r.text
    assert 'name="owner"' in r.text  # shown on the form, choices kept
    assert 'role="alert"' in r.text
    org_admin.close()


def test_roles_pages_are_refused_without_roles_read_and_isolated(
    server: LiveServer, admin: httpx.Client, mailbox: Mailbox, tenant: Tenant
) -> None:
    other = make_tenant(admin)
    theirs = ok(
        admin.post(
            "/api/v1/roles",
            json={
                "name": unique("Secret"),
                "scope": "organization",
                "org_id": other.org["id"],
                "permissions": ["devices:read"],
            },
        ),
        201,
    )
    viewer = member_console(server, admin, mailbox, role="Org Viewer", org_id=tenant.org["id"])
    assert viewer.get("/settings/roles").status_code == 403
    viewer.close()
    org_admin = member_console(server, admin, mailbox, role="Org Admin", org_id=tenant.org["id"])
    r = org_admin.get("/settings/roles")
    assert r.status_code == 200 and theirs["name"] not in r.text
    assert org_admin.get(f"/settings/roles/{theirs['id']}").status_code == 404
    r = org_admin.post(
        f"/settings/roles/{theirs['id']}/delete", data={"csrf_token": session_csrf(org_admin)}
    )
    assert r.status_code == 404
    org_admin.close()
