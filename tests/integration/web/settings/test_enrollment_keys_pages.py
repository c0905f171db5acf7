"""/settings/enrollment-keys over HTTP: a key made through the form is shown once with
the server's one-line install command, and it enrolls; bad input is answered beside the
field; revoking stops it; another tenant's keys are 404; a viewer may change nothing."""

from __future__ import annotations

import html
import re
import shlex
from datetime import UTC, datetime, timedelta

import httpx

from tests.factories import Tenant, make_member, make_site, make_tenant, ok, unique
from tests.integration.agents.helpers import enroll, make_enrollment_key
from tests.integration.web.settings import admin_console, field_error, location, member_console
from tests.support.mailbox import Mailbox
from tests.support.server import LiveServer

KEY = re.compile(r'id="enrollment-key"[^>]*value="([^"]+)"')
COMMAND = re.compile(r'id="install-command"[^>]*value="([^"]+)"')


def test_created_key_is_shown_once_with_the_install_command_and_enrolls(
    server: LiveServer, admin: httpx.Client, tenant: Tenant
) -> None:
    site = make_site(admin, tenant.org["id"])
    name = unique("laptops")
    with admin_console(server) as c:
        form = c.get("/settings/enrollment-keys/new", org=tenant.org["id"])
        assert form.status_code == 200 and site["name"] in form.text
        made = c.post(
            f"/settings/enrollment-keys/new?org={tenant.org['id']}",
            {"name": name, "org_id": tenant.org["id"], "site_id": site["id"], "max_uses": "2"},
        )
        assert made.status_code == 201, made.text
        assert made.headers["cache-control"] == "no-store"
        match = KEY.search(made.text)
        assert match, made.text
        key = match.group(1)
        command_match = COMMAND.search(made.text)
        assert command_match
        command = html.unescape(command_match.group(1))
        # exactly what the server's installer takes: its own script, its URL, this key
        assert command == (
            f"curl -fsSL {server.url}/api/v1/agents/install.sh | sudo sh -s -- "
            f"--server {server.url} --key {key}"
        )
        assert shlex.split(command.split("|")[1])[-2:] == ["--key", key]

        listing = c.get("/settings/enrollment-keys", org=tenant.org["id"])
        assert name in listing.text and key[:16] in listing.text
        assert key not in listing.text  # the secret is never shown again
        assert "0 / 2" in listing.text and 'data-status="active"' in listing.text
        assert site["name"] in listing.text

        device = ok(enroll(server.url, key, hostname=unique("host")))
        assert ok(admin.get(f"/api/v1/devices/{device['device_id']}"))["site_id"] == site["id"]

        key_id = ok(admin.get("/api/v1/enrollment-keys", params={"q": name}))["items"][0]["id"]
        done = c.post(f"/settings/enrollment-keys/{key_id}/revoke", htmx=True)
        assert location(done) == "/settings/enrollment-keys"
        assert enroll(server.url, key, hostname=unique("late")).status_code == 401
        revoked = c.get("/settings/enrollment-keys", status="revoked", org=tenant.org["id"])
        assert name in revoked.text and 'data-status="revoked"' in revoked.text
        current = c.get("/settings/enrollment-keys", org=tenant.org["id"])
        assert name not in current.text


def test_bad_input_is_answered_beside_each_field(
    server: LiveServer, admin: httpx.Client, tenant: Tenant
) -> None:
    foreign_site = make_tenant(admin).site
    past = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    with admin_console(server) as c:
        bad = c.post(
            "/settings/enrollment-keys/new",
            {"name": "", "org_id": tenant.org["id"], "max_uses": "0", "expires_at": past},
        )
        assert bad.status_code == 422
        assert field_error(bad.text, "name") == "Field required"
        assert "greater than or equal to 1" in (field_error(bad.text, "max_uses") or "")
        assert "must be in the future" in (field_error(bad.text, "expires_at") or "")
        wrong_site = c.post(
            "/settings/enrollment-keys/new",
            {"name": "x", "org_id": tenant.org["id"], "site_id": foreign_site["id"]},
        )
        assert wrong_site.status_code == 422
        assert "site of the organization" in (field_error(wrong_site.text, "site_id") or "")
        sites = c.get("/settings/enrollment-keys/sites", org_id=tenant.org["id"])
        assert tenant.site["name"] in sites.text and 'id="site-field"' in sites.text
        # a period becomes an expiry; an exact UTC time wins over it
        in_a_week = c.post(
            "/settings/enrollment-keys/new",
            {"name": unique("week"), "org_id": tenant.org["id"], "valid_for": "7d"},
        )
        assert in_a_week.status_code == 201
    keys = ok(admin.get("/api/v1/enrollment-keys", params={"org_id": tenant.org["id"]}))["items"]
    expiry = datetime.fromisoformat(keys[0]["expires_at"])
    assert timedelta(days=6, hours=23) < expiry - datetime.now(UTC) <= timedelta(days=7)
    assert all(k["name"] != "x" for k in keys)


def test_another_tenants_keys_are_not_found_and_not_listed(
    server: LiveServer, admin: httpx.Client, mailbox: Mailbox, tenant: Tenant
) -> None:
    stranger = make_tenant(admin)
    theirs = make_enrollment_key(admin, stranger.org["id"], name=unique("theirs"))
    ours = make_enrollment_key(admin, tenant.org["id"], name=unique("ours"))
    member = make_member(admin, mailbox, role="Org Admin", org_id=tenant.org["id"])
    with member_console(server, member) as c:
        listing = c.get("/settings/enrollment-keys")
        assert ours["name"] in listing.text and theirs["name"] not in listing.text
        assert (
            c.post(f"/settings/enrollment-keys/{theirs['id']}/revoke", htmx=True).status_code == 404
        )
        assert c.get("/settings/enrollment-keys", org=stranger.org["id"]).status_code == 404
        r = c.post(
            "/settings/enrollment-keys/new", {"name": "sneaky", "org_id": stranger.org["id"]}
        )
        assert r.status_code == 404
    assert ok(admin.get(f"/api/v1/enrollment-keys/{theirs['id']}"))["revoked_at"] is None


def test_a_viewer_sees_keys_without_offers_and_a_forged_form_is_refused(
    server: LiveServer, admin: httpx.Client, mailbox: Mailbox, tenant: Tenant
) -> None:
    key = make_enrollment_key(admin, tenant.org["id"], name=unique("viewed"))
    viewer = make_member(admin, mailbox, role="Org Technician", org_id=tenant.org["id"])
    with member_console(server, viewer) as c:
        # a technician reads and creates keys but may not revoke them
        page = c.get("/settings/enrollment-keys")
        assert key["name"] in page.text
        assert "New enrollment key" in page.text and ">Revoke<" not in page.text
        assert c.post(f"/settings/enrollment-keys/{key['id']}/revoke", htmx=True).status_code == 403
    reader = make_member(admin, mailbox, role="Org Viewer", org_id=tenant.org["id"])
    with member_console(server, reader) as c:
        assert c.get("/settings/enrollment-keys").status_code == 403  # no enrollment_keys:read
        assert c.get("/settings/enrollment-keys/new").status_code == 403
        forged = c.post(
            "/settings/enrollment-keys/new", {"name": "forged", "org_id": tenant.org["id"]}
        )
        assert forged.status_code == 403
    assert ok(admin.get(f"/api/v1/enrollment-keys/{key['id']}"))["revoked_at"] is None
