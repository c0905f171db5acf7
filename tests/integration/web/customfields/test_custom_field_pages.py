"""Custom field definition pages over HTTP: create, edit and delete through the API's own
actions, typed defaults, errors beside the fields, and role-aware pages."""

from __future__ import annotations

import html

import httpx

from tests.factories import Tenant, make_member, make_tenant, ok, unique
from tests.integration.web.groups.helpers import Console
from tests.support.mailbox import Mailbox
from tests.support.server import ADMIN_EMAIL, ADMIN_PASSWORD, LiveServer

PAGE = "/settings/custom-fields"
API = "/api/v1/custom-fields"


def fields_of(admin: httpx.Client, org_id: str) -> dict[str, dict[str, object]]:
    items = ok(admin.get(API, params={"org_id": org_id, "per_page": 200}))["items"]
    return {f["key"]: f for f in items}


def test_create_edit_delete(server: LiveServer, admin: httpx.Client, tenant: Tenant) -> None:
    org = tenant.org["id"]
    key = unique("role").replace("-", "_")
    with Console(server.url, ADMIN_EMAIL, ADMIN_PASSWORD) as c:
        assert c.get(f"{PAGE}/new", org_id=org).status_code == 200
        r = c.post(
            f"{PAGE}/new",
            {
                "org_id": org,
                "key": key,
                "name": "Server role",
                "type": "select",
                "options": "web\ndb\n\ncache",
                "required": "true",
                "default_value": "web",
            },
        )
        assert r.status_code == 303, r.text[:3000]
        created = fields_of(admin, org)[key]
        assert created["options"] == ["web", "db", "cache"]
        assert (created["required"], created["default_value"]) == (True, "web")
        listed = c.get(PAGE, org=org)
        assert listed.status_code == 200 and key in listed.text and "web, db, cache" in listed.text

        edit = f"{PAGE}/{created['id']}/edit"
        page = c.get(edit)
        assert page.status_code == 200 and "fixed once created" in page.text
        r = c.post(edit, {"name": "Role", "options": "web\ndb", "default_value": "db"})
        assert r.status_code == 303
        changed = fields_of(admin, org)[key]
        assert (changed["name"], changed["options"], changed["default_value"]) == (
            "Role",
            ["web", "db"],
            "db",
        )
        assert not changed["required"]  # the unticked box

        r = c.post(f"{PAGE}/{created['id']}/delete", {})
        assert r.status_code == 303
    assert key not in fields_of(admin, org)


def test_typed_defaults_and_errors_beside_the_fields(
    server: LiveServer, admin: httpx.Client, tenant: Tenant
) -> None:
    org = tenant.org["id"]
    number_key = unique("cores").replace("-", "_")
    with Console(server.url, ADMIN_EMAIL, ADMIN_PASSWORD) as c:
        r = c.post(
            f"{PAGE}/new",
            {
                "org_id": org,
                "key": number_key,
                "name": "Cores",
                "type": "number",
                "default_value": "8",
            },
        )
        assert r.status_code == 303
        assert fields_of(admin, org)[number_key]["default_value"] == 8
        flag_key = unique("vip").replace("-", "_")
        r = c.post(
            f"{PAGE}/new",
            {
                "org_id": org,
                "key": flag_key,
                "name": "VIP",
                "type": "boolean",
                "default_value": "yes",
            },
        )
        assert r.status_code == 303
        assert fields_of(admin, org)[flag_key]["default_value"] is True

        r = c.post(f"{PAGE}/new", {"org_id": org, "key": "Bad Key", "name": "x", "type": "text"})
        assert r.status_code == 422 and 'id="f-key-error"' in r.text
        r = c.post(f"{PAGE}/new", {"org_id": org, "key": "pick", "name": "x", "type": "select"})
        assert r.status_code == 422 and "needs options" in r.text
        r = c.post(
            f"{PAGE}/new",
            {"org_id": org, "key": "when", "name": "x", "type": "date", "default_value": "soon"},
        )
        assert r.status_code == 422 and "YYYY-MM-DD" in r.text
        r = c.post(f"{PAGE}/new", {"org_id": org, "key": number_key, "name": "x", "type": "text"})
        assert r.status_code == 409 and "already has a custom field" in html.unescape(r.text)


def test_viewer_sees_no_write_actions_and_forged_posts_are_refused(
    server: LiveServer, admin: httpx.Client, tenant: Tenant, mailbox: Mailbox
) -> None:
    org = tenant.org["id"]
    key = unique("site").replace("-", "_")
    field = ok(
        admin.post(API, json={"org_id": org, "key": key, "name": "Site code", "type": "text"}), 201
    )
    viewer = make_member(admin, mailbox, role="Org Viewer", org_id=org)
    with Console(server.url, viewer.email) as c:  # type: ignore[attr-defined]
        listed = c.get(PAGE)
        assert listed.status_code == 200 and key in listed.text
        assert "New custom field" not in listed.text and "Delete field" not in listed.text
        assert c.get(f"{PAGE}/new", org_id=org).status_code == 403
        assert c.get(f"{PAGE}/{field['id']}/edit").status_code == 403
        forged = c.post(
            f"{PAGE}/new", {"org_id": org, "key": "forged", "name": "x", "type": "text"}
        )
        assert forged.status_code == 403
        assert c.post(f"{PAGE}/{field['id']}/delete", {}).status_code == 403
    keys = fields_of(admin, org)
    assert key in keys and "forged" not in keys


def test_another_tenants_field_is_a_404(
    server: LiveServer, admin: httpx.Client, tenant: Tenant, mailbox: Mailbox
) -> None:
    other = make_tenant(admin)
    key = unique("secret").replace("-", "_")
    theirs = ok(
        admin.post(API, json={"org_id": other.org["id"], "key": key, "name": "x", "type": "text"}),
        201,
    )
    member = make_member(admin, mailbox, role="Org Admin", org_id=tenant.org["id"])
    with Console(server.url, member.email) as c:  # type: ignore[attr-defined]
        assert key not in c.get(PAGE).text
        assert c.get(f"{PAGE}/{theirs['id']}/edit").status_code == 404
        assert c.post(f"{PAGE}/{theirs['id']}/delete", {}).status_code == 404
        assert c.get(f"{PAGE}/new", org_id=other.org["id"]).status_code == 404
    assert key in fields_of(admin, other.org["id"])
