"""/settings/api-keys over HTTP: a key made through the form is shown once, works on the
API with exactly its permissions, and stops working when revoked; bad input is answered
beside the field; another tenant's keys are 404; what a user may not do is not offered."""

from __future__ import annotations

import re

import httpx

from tests.factories import Tenant, client, make_member, make_tenant, ok, unique
from tests.integration.web.settings import admin_console, field_error, location, member_console
from tests.support.mailbox import Mailbox
from tests.support.server import LiveServer

SECRET = re.compile(r'id="api-key"[^>]*value="(brz_[^"]+)"')
PERMISSIONS_ERROR = re.compile(r'id="f-permissions-error"[^>]*>([^<]*)<')


def test_key_is_shown_once_works_and_is_revoked(
    server: LiveServer, admin: httpx.Client, tenant: Tenant
) -> None:
    name = unique("psa-sync")
    place = f"org:{tenant.org['id']}"
    with admin_console(server) as c:
        form = c.get("/settings/api-keys/new", org=tenant.org["id"])
        assert form.status_code == 200 and 'value="devices:read"' in form.text
        made = c.post(
            "/settings/api-keys/new",
            {"name": name, "place": place, "permissions": ["devices:read"], "valid_for": "30d"},
        )
        assert made.status_code == 201, made.text
        assert made.headers["cache-control"] == "no-store"
        assert "shown only once" in made.text
        match = SECRET.search(made.text)
        assert match
        secret = match.group(1)

        with client(server.url, secret) as api:
            assert api.get("/api/v1/devices").status_code == 200
            # orgs:read is not one of its permissions: the organization is hidden from it
            assert api.get(f"/api/v1/orgs/{tenant.org['id']}").status_code == 404

        listing = c.get("/settings/api-keys", org=tenant.org["id"])
        assert name in listing.text and secret[:12] in listing.text
        assert secret not in listing.text
        assert "<code>devices:read</code>" in listing.text
        key_id = ok(admin.get("/api/v1/api-keys", params={"q": name}))["items"][0]["id"]
        assert location(c.post(f"/settings/api-keys/{key_id}/revoke", htmx=True))
        with client(server.url, secret) as api:
            assert api.get("/api/v1/devices").status_code == 401
        assert name in c.get("/settings/api-keys", status="revoked").text


def test_bad_input_is_answered_beside_each_field(
    server: LiveServer, admin: httpx.Client, tenant: Tenant
) -> None:
    with admin_console(server) as c:
        none = c.post("/settings/api-keys/new", {"name": "", "place": f"org:{tenant.org['id']}"})
        assert none.status_code == 422
        assert field_error(none.text, "name") == "Field required"
        found = PERMISSIONS_ERROR.search(none.text)
        assert found and "at least 1 item" in found.group(1)
        no_place = c.post("/settings/api-keys/new", {"name": "k", "permissions": ["devices:read"]})
        assert no_place.status_code == 422
        assert "partner_id" in (field_error(no_place.text, "place") or "")
        unknown = c.post(
            "/settings/api-keys/new",
            {"name": "k", "place": f"org:{tenant.org['id']}", "permissions": ["devices:fly"]},
        )
        assert unknown.status_code == 422 and "unknown permission" in unknown.text
        checked = 'value="devices:fly"'  # unknown values are not offered as boxes
        assert checked not in unknown.text


def test_a_key_cannot_exceed_its_creator_and_others_keys_are_not_found(
    server: LiveServer, admin: httpx.Client, mailbox: Mailbox, tenant: Tenant
) -> None:
    stranger = make_tenant(admin)
    theirs = ok(
        admin.post(
            "/api/v1/api-keys",
            json={
                "name": unique("k"),
                "org_id": stranger.org["id"],
                "permissions": ["devices:read"],
            },
        ),
        201,
    )
    org_admin = make_member(admin, mailbox, role="Org Admin", org_id=tenant.org["id"])
    with member_console(server, org_admin) as c:
        form = c.get("/settings/api-keys/new")
        assert f'value="org:{tenant.org["id"]}"' in form.text
        assert stranger.org["id"] not in form.text
        assert 'value="partners:write"' not in form.text  # not held: not offered
        forged = c.post(
            "/settings/api-keys/new",
            {
                "name": "too much",
                "place": f"org:{tenant.org['id']}",
                "permissions": ["devices:read", "partners:write"],
            },
        )
        assert forged.status_code == 403
        found = PERMISSIONS_ERROR.search(forged.text)
        assert found and "partners:write" in found.group(1)
        elsewhere = c.post(
            "/settings/api-keys/new",
            {"name": "x", "place": f"org:{stranger.org['id']}", "permissions": ["devices:read"]},
        )
        assert elsewhere.status_code == 404
        assert c.post(f"/settings/api-keys/{theirs['id']}/revoke", htmx=True).status_code == 404
        assert theirs["name"] not in c.get("/settings/api-keys").text
    assert ok(admin.get(f"/api/v1/api-keys/{theirs['id']}"))["revoked_at"] is None


def test_without_api_key_permissions_nothing_is_offered(
    server: LiveServer, admin: httpx.Client, mailbox: Mailbox, tenant: Tenant
) -> None:
    viewer = make_member(admin, mailbox, role="Org Viewer", org_id=tenant.org["id"])
    with member_console(server, viewer) as c:
        assert c.get("/settings/api-keys").status_code == 403
        assert c.get("/settings/api-keys/new").status_code == 403
        forged = c.post(
            "/settings/api-keys/new",
            {"name": "f", "place": f"org:{tenant.org['id']}", "permissions": ["devices:read"]},
        )
        assert forged.status_code == 403
        nav = c.get("/settings/tenancy").text
        assert 'href="/settings/api-keys"' not in nav
