"""Device group pages over HTTP: forms create static and dynamic groups through the same
actions as the API, bad rules come back as field errors, members are added and removed
with per-device reasons, and what a role may not do is neither offered nor accepted."""

from __future__ import annotations

import html
import json
import re

import httpx

from tests.factories import Tenant, make_member, make_tenant, ok, unique
from tests.integration.groups.helpers import GROUPS, make_group, member_ids
from tests.integration.scripts.helpers import enroll_device
from tests.integration.web.groups.helpers import Console
from tests.support.mailbox import Mailbox
from tests.support.server import ADMIN_EMAIL, ADMIN_PASSWORD, LiveServer


def admin_console(server: LiveServer) -> Console:
    return Console(server.url, ADMIN_EMAIL, ADMIN_PASSWORD)


def group_id_of(response: httpx.Response) -> str:
    assert response.status_code == 303, response.text[:2000]
    found = re.match(r"/groups/([0-9a-f-]{36})", response.headers["location"])
    assert found, response.headers["location"]
    return found.group(1)


def test_static_group_from_the_form(
    server: LiveServer, admin: httpx.Client, tenant: Tenant
) -> None:
    org = tenant.org["id"]
    name = unique("Front desks")
    with admin_console(server) as c:
        form = c.get("/groups/new", org=org)
        assert form.status_code == 200
        assert 'name="type" value="static"' in form.text
        assert tenant.site["name"] in form.text  # the site chooser offers the org's sites
        r = c.post(
            f"/groups/new?org={org}",
            {"org_id": org, "name": name, "description": "reception PCs", "type": "static"},
        )
        gid = group_id_of(r)
        assert r.headers["location"] == f"/groups/{gid}?org={org}"
        page = c.get(f"/groups/{gid}", org=org)
        listed = c.get("/groups", org=org)
    assert page.status_code == 200 and name in page.text and "reception PCs" in page.text
    assert "Add devices" in page.text  # a static group's members are edited here
    assert listed.status_code == 200 and name in listed.text
    row = re.search(rf'data-group-id="{gid}".*?</tr>', listed.text, re.S)
    assert row and "static" in row.group(0)
    assert ok(admin.get(f"{GROUPS}/{gid}"))["type"] == "static"


def test_dynamic_group_from_the_form_shows_rules_in_words_and_members(
    server: LiveServer, admin: httpx.Client, tenant: Tenant
) -> None:
    org = tenant.org["id"]
    marker = unique("web").lower()
    linux = enroll_device(admin, tenant, hostname=f"{marker}-1")
    enroll_device(admin, tenant, hostname=f"{marker}-2", os_type="windows")
    enroll_device(admin, tenant, hostname=unique("db"))
    rules = {
        "all": [
            {"field": "os_type", "op": "eq", "value": "linux"},
            {"field": "hostname", "op": "contains", "value": marker},
        ]
    }
    with admin_console(server) as c:
        form = c.get("/groups/new", org=org, type="dynamic")
        assert 'data-island="rule_builder"' in form.text
        catalog = re.search(r'data-catalog="([^"]*)"', form.text)
        assert catalog
        fields = {
            f["key"]
            for section in json.loads(html.unescape(catalog.group(1)))["sections"]
            for f in section["fields"]
        }
        assert {"os_type", "hostname", "software", "site_id", "last_seen_at"} <= fields
        r = c.post(
            "/groups/new",
            {
                "org_id": org,
                "name": unique("Linux web"),
                "type": "dynamic",
                "rules": json.dumps(rules),
            },
        )
        gid = group_id_of(r)
        page = c.get(f"/groups/{gid}")
    assert member_ids(admin, gid) == {linux.device_id}
    text = html.unescape(page.text)
    assert f"OS type is 'linux' AND Hostname contains '{marker}'" in text
    assert f"{marker}-1" in text and f"{marker}-2" not in text
    assert "Add devices" not in text  # members of a dynamic group follow its rules


def test_bad_rules_and_fields_come_back_beside_the_form(server: LiveServer, tenant: Tenant) -> None:
    org = tenant.org["id"]
    bad = {"all": [{"field": "hostname", "op": "gt", "value": "a"}]}
    with admin_console(server) as c:
        r = c.post(
            "/groups/new",
            {"org_id": org, "name": "x", "type": "dynamic", "rules": json.dumps(bad)},
        )
        assert r.status_code == 422
        assert "for hostname use one of" in r.text
        errors = re.search(r'data-errors="([^"]*)"', r.text)
        assert errors and "rules.all.0.op" in json.loads(html.unescape(errors.group(1)))
        assert "&#34;op&#34;: &#34;gt&#34;" in r.text or '"op": "gt"' in html.unescape(r.text)

        r = c.post("/groups/new", {"org_id": org, "name": "y", "type": "dynamic", "rules": "{all"})
        assert r.status_code == 422 and "not valid JSON" in r.text

        r = c.post("/groups/new", {"org_id": org, "name": "", "type": "static"})
        assert r.status_code == 422
        assert re.search(
            r'id="f-name"[^>]*is-invalid|is-invalid[^>]*id="f-name"', r.text, re.S
        ) or ('class="form-control is-invalid"' in r.text)
        taken = unique("Taken")
        assert (
            c.post("/groups/new", {"org_id": org, "name": taken, "type": "static"}).status_code
            == 303
        )
        r = c.post("/groups/new", {"org_id": org, "name": taken, "type": "static"})
        assert r.status_code == 409 and "already has a group named" in html.unescape(r.text)


def test_edit_changes_rules_and_refuses_bad_ones(
    server: LiveServer, admin: httpx.Client, tenant: Tenant
) -> None:
    marker = unique("edit").lower()
    device = enroll_device(admin, tenant, hostname=f"{marker}-a")
    group = make_group(
        admin,
        tenant,
        type="dynamic",
        rules={"all": [{"field": "hostname", "op": "eq", "value": "nothing-here"}]},
    )
    path = f"/groups/{group['id']}/edit"
    with admin_console(server) as c:
        assert c.get(path).status_code == 200
        good = {"any": [{"field": "hostname", "op": "starts_with", "value": marker}]}
        r = c.post(path, {"name": group["name"], "rules": json.dumps(good)})
        assert r.status_code == 303
        wrong = {"any": [{"field": "ram_total_mb", "op": "gt", "value": "lots"}]}
        r = c.post(path, {"name": group["name"], "rules": json.dumps(wrong)})
        assert r.status_code == 422 and "expected a number" in r.text
    assert member_ids(admin, group["id"]) == {device.device_id}


def test_static_members_added_and_removed_with_reasons(
    server: LiveServer, admin: httpx.Client, tenant: Tenant
) -> None:
    other = make_tenant(admin)
    mine = enroll_device(admin, tenant, hostname=unique("desk"))
    theirs = enroll_device(admin, other, hostname=unique("elsewhere"))
    group = make_group(admin, tenant)
    gid = group["id"]
    with admin_console(server) as c:
        found = c.get(f"/groups/{gid}/candidates", q="desk")
        assert found.status_code == 200 and mine.device_id in found.text
        r = c.post(
            f"/groups/{gid}/members/add",
            {"device_ids": [mine.device_id, theirs.device_id]},
            **{"HX-Request": "true"},
        )
        assert r.status_code == 200
        text = html.unescape(r.text)
        assert "Added 1 device" in text
        assert "the device belongs to another organization" in text
        again = c.get(f"/groups/{gid}/candidates", q="desk")
        assert "already a member" in again.text
        r = c.post(f"/groups/{gid}/members/add", {})
        assert r.status_code == 422 and "Name at least one device" in r.text
        r = c.post(f"/groups/{gid}/members/remove", {"device_ids": [mine.device_id]})
        assert r.status_code == 200 and "Removed 1 device" in r.text
    assert member_ids(admin, gid) == set()


def test_delete_refused_while_it_has_children_is_explained(
    server: LiveServer, admin: httpx.Client, tenant: Tenant
) -> None:
    parent = make_group(admin, tenant)
    child = make_group(admin, tenant, parent_id=parent["id"])
    with admin_console(server) as c:
        page = c.get(f"/groups/{parent['id']}")
        assert child["name"] in page.text  # the children are listed on the parent's page
        r = c.post(f"/groups/{parent['id']}/delete", {})
        assert r.status_code == 409
        assert "The group was not deleted" in r.text
        assert f"/groups/{child['id']}" in r.text
        assert c.post(f"/groups/{child['id']}/delete", {}).status_code == 303
        r = c.post(f"/groups/{parent['id']}/delete", {})
        assert r.status_code == 303 and r.headers["location"].startswith("/groups")
    assert admin.get(f"{GROUPS}/{parent['id']}").status_code == 404


def test_another_tenants_group_is_a_404(
    server: LiveServer, admin: httpx.Client, tenant: Tenant, mailbox: Mailbox
) -> None:
    other = make_tenant(admin)
    theirs = make_group(admin, other)
    member = make_member(admin, mailbox, role="Org Admin", org_id=tenant.org["id"])
    with Console(server.url, member.email) as c:  # type: ignore[attr-defined]
        assert c.get(f"/groups/{theirs['id']}").status_code == 404
        assert c.get(f"/groups/{theirs['id']}/edit").status_code == 404
        assert c.get("/groups/new", org_id=other.org["id"]).status_code == 404
        assert c.get("/groups", org=other.org["id"]).status_code == 404
        listed = c.get("/groups")
        assert listed.status_code == 200 and theirs["name"] not in listed.text
        assert c.post(f"/groups/{theirs['id']}/delete", {}).status_code == 404
    assert ok(admin.get(f"{GROUPS}/{theirs['id']}"))["id"] == theirs["id"]


def test_viewer_is_offered_nothing_and_forged_posts_are_refused(
    server: LiveServer, admin: httpx.Client, tenant: Tenant, mailbox: Mailbox
) -> None:
    org = tenant.org["id"]
    device = enroll_device(admin, tenant)
    group = make_group(admin, tenant)
    ok(admin.post(f"{GROUPS}/{group['id']}/members", json={"device_ids": [device.device_id]}))
    viewer = make_member(admin, mailbox, role="Org Viewer", org_id=org)
    with Console(server.url, viewer.email) as c:  # type: ignore[attr-defined]
        listed = c.get("/groups", org=org)
        assert listed.status_code == 200 and group["name"] in listed.text
        assert "New group" not in listed.text
        page = c.get(f"/groups/{group['id']}")
        assert page.status_code == 200 and device.device_id in page.text
        for offered in ("Edit</a>", "Delete", "Remove selected", "Add devices", "Run script"):
            assert offered not in page.text, offered
        assert c.get("/groups/new", org_id=org).status_code == 403
        assert c.get(f"/groups/{group['id']}/edit").status_code == 403
        forged = c.post("/groups/new", {"org_id": org, "name": "forged", "type": "static"})
        assert forged.status_code == 403
        r = c.post(f"/groups/{group['id']}/members/remove", {"device_ids": [device.device_id]})
        assert r.status_code == 403
        assert c.post(f"/groups/{group['id']}/delete", {}).status_code == 403
    assert member_ids(admin, group["id"]) == {device.device_id}
    names = {g["name"] for g in ok(admin.get(GROUPS, params={"org_id": org}))["items"]}
    assert "forged" not in names


def test_a_post_without_the_csrf_token_is_refused(server: LiveServer, tenant: Tenant) -> None:
    with admin_console(server) as c:
        r = c.http.post(
            "/groups/new", data={"org_id": tenant.org["id"], "name": "n", "type": "static"}
        )
    assert r.status_code == 403
