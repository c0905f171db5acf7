"""Device groups: CRUD, nesting constraints, static membership, permissions, isolation."""

from __future__ import annotations

import httpx

from tests.factories import Tenant, make_member, make_site, make_tenant, ok
from tests.integration.groups.helpers import (
    GROUPS,
    add,
    dynamic,
    error_fields,
    make_group,
    member_ids,
    members,
    remove,
)
from tests.integration.scripts.helpers import audit_rows, enroll_device
from tests.support.mailbox import Mailbox


def test_crud(admin: httpx.Client, tenant: Tenant) -> None:
    group = make_group(admin, tenant, description="front ends")
    assert (group["type"], group["member_count"], group["rules"]) == ("static", 0, None)
    assert group["org_id"] == tenant.org["id"] and group["partner_id"] == tenant.partner["id"]
    assert ok(admin.get(f"{GROUPS}/{group['id']}"))["name"] == group["name"]
    listed = ok(admin.get(GROUPS, params={"org_id": tenant.org["id"], "per_page": 200}))
    assert group["id"] in {g["id"] for g in listed["items"]}
    found = ok(admin.get(GROUPS, params={"org_id": tenant.org["id"], "q": group["name"]}))
    assert [g["id"] for g in found["items"]] == [group["id"]]

    renamed = ok(admin.patch(f"{GROUPS}/{group['id']}", json={"name": "Web servers"}))
    assert renamed["name"] == "Web servers"
    twin = admin.post(
        GROUPS, json={"org_id": tenant.org["id"], "name": "Web servers", "type": "static"}
    )
    assert error_fields(twin, 409) == ["name"]
    assert error_fields(admin.patch(f"{GROUPS}/{group['id']}", json={"rules": {"all": []}})) == [
        "rules"
    ]
    assert ok(admin.delete(f"{GROUPS}/{group['id']}"), 204) is None
    assert admin.get(f"{GROUPS}/{group['id']}").status_code == 404
    actions = {r["action"] for r in audit_rows(admin, org_id=tenant.org["id"])}
    assert {"device_group.create", "device_group.update", "device_group.delete"} <= actions


def test_bad_input_names_the_field(admin: httpx.Client, tenant: Tenant) -> None:
    org = tenant.org["id"]

    def post(**body: object) -> httpx.Response:
        return admin.post(GROUPS, json={"org_id": org, "name": "x", **body})

    assert error_fields(post(type="dynamic")) == ["rules"]
    assert error_fields(post(type="static", rules={"all": []})) == ["rules"]
    bad = {"all": [{"field": "hostname", "op": "gt", "value": "a"}]}
    assert error_fields(post(type="dynamic", rules=bad)) == ["rules.all.0.op"]
    unknown = {"any": [{"field": "custom.nope", "op": "exists"}]}
    assert error_fields(post(type="dynamic", rules=unknown)) == ["rules.any.0.field"]
    other = make_tenant(admin)
    assert error_fields(post(type="static", site_id=other.site["id"])) == ["site_id"]
    ref = {"all": [{"field": "group", "op": "eq", "value": make_group(admin, other)["id"]}]}
    assert error_fields(post(type="dynamic", rules=ref)) == ["rules"]
    assert post(type="static", org_id="00000000-0000-0000-0000-000000000000").status_code == 404


def test_nesting_constraints(admin: httpx.Client, tenant: Tenant) -> None:
    site2 = make_site(admin, tenant.org["id"])
    parent = make_group(admin, tenant, site_id=tenant.site["id"])
    child = make_group(admin, tenant, parent_id=parent["id"])
    assert child["site_id"] == tenant.site["id"]  # a child of a site group lives in that site
    wrong_site = admin.post(
        GROUPS,
        json={
            "org_id": tenant.org["id"],
            "name": "elsewhere",
            "type": "static",
            "parent_id": parent["id"],
            "site_id": site2["id"],
        },
    )
    assert error_fields(wrong_site) == ["site_id"]
    cycle = admin.patch(f"{GROUPS}/{parent['id']}", json={"parent_id": child["id"]})
    assert error_fields(cycle) == ["parent_id"]
    assert error_fields(
        admin.patch(f"{GROUPS}/{parent['id']}", json={"parent_id": parent["id"]})
    ) == ["parent_id"]
    foreign = make_group(admin, make_tenant(admin))
    moved = admin.patch(f"{GROUPS}/{child['id']}", json={"parent_id": foreign["id"]})
    assert error_fields(moved) == ["parent_id"]
    assert error_fields(admin.delete(f"{GROUPS}/{parent['id']}"), 409) == ["group_id"]
    children = ok(admin.get(GROUPS, params={"parent_id": parent["id"]}))["items"]
    assert [g["id"] for g in children] == [child["id"]]
    top = ok(admin.patch(f"{GROUPS}/{child['id']}", json={"parent_id": None}))
    assert top["parent_id"] is None
    assert admin.delete(f"{GROUPS}/{parent['id']}").status_code == 204


def test_static_membership(admin: httpx.Client, tenant: Tenant) -> None:
    site2 = make_site(admin, tenant.org["id"])
    a = enroll_device(admin, tenant, hostname="alpha")
    b = enroll_device(admin, tenant, site=site2, hostname="bravo")
    gone = enroll_device(admin, tenant, hostname="gone")
    ok(admin.delete(f"/api/v1/devices/{gone.device_id}"), 204)
    stranger = enroll_device(admin, make_tenant(admin))
    group = make_group(admin, tenant)
    answer = ok(
        add(admin, group["id"], a.device_id, b.device_id, gone.device_id, stranger.device_id)
    )
    assert set(answer["added"]) == {a.device_id, b.device_id}
    reasons = {s["device_id"]: s["reason"] for s in answer["skipped"]}
    assert reasons == {
        gone.device_id: "the device is decommissioned",
        stranger.device_id: "the device belongs to another organization",
    }
    again = ok(add(admin, group["id"], a.device_id))
    assert again["added"] == [] and again["skipped"][0]["reason"] == "already a member"
    listed = members(admin, group["id"])
    assert {m["hostname"] for m in listed} == {"alpha", "bravo"}
    assert all(m["added_by"] == "manual" and m["added_at"] for m in listed)
    assert ok(admin.get(f"{GROUPS}/{group['id']}"))["member_count"] == 2

    site_group = make_group(admin, tenant, site_id=tenant.site["id"])
    only_a = ok(add(admin, site_group["id"], a.device_id, b.device_id))
    assert only_a["added"] == [a.device_id]
    assert only_a["skipped"][0]["reason"] == "the device is not in the group's site"

    child = make_group(admin, tenant, parent_id=group["id"])
    c = enroll_device(admin, tenant, hostname="charlie")
    inside = ok(add(admin, child["id"], a.device_id, c.device_id))
    assert inside["added"] == [a.device_id]
    assert inside["skipped"][0]["reason"] == "the device is not a member of the parent group"
    # Leaving the parent means leaving the child.
    out = ok(remove(admin, group["id"], a.device_id, c.device_id))
    assert out["removed"] == [a.device_id] and out["skipped"][0]["reason"] == "not a member"
    assert member_ids(admin, group["id"]) == {b.device_id}
    assert member_ids(admin, child["id"]) == set()

    rule = dynamic(admin, tenant, {"all": [{"field": "hostname", "op": "eq", "value": "alpha"}]})
    assert error_fields(add(admin, rule["id"], b.device_id), 409) == ["device_ids"]
    assert error_fields(remove(admin, rule["id"], a.device_id), 409) == ["device_ids"]
    assert error_fields(add(admin, group["id"])) == ["device_ids"]
    actions = [r["action"] for r in audit_rows(admin, org_id=tenant.org["id"])]
    assert "device_group.members.add" in actions and "device_group.members.remove" in actions


def test_viewer_reads_but_cannot_write(
    admin: httpx.Client, tenant: Tenant, mailbox: Mailbox
) -> None:
    group = make_group(admin, tenant)
    device = enroll_device(admin, tenant)
    viewer = make_member(admin, mailbox, role="Org Viewer", org_id=tenant.org["id"])
    assert ok(viewer.get(f"{GROUPS}/{group['id']}"))["id"] == group["id"]
    assert members(viewer, group["id"]) == []
    body = {"org_id": tenant.org["id"], "name": "mine", "type": "static"}
    assert viewer.post(GROUPS, json=body).status_code == 403
    assert viewer.patch(f"{GROUPS}/{group['id']}", json={"name": "x"}).status_code == 403
    assert viewer.delete(f"{GROUPS}/{group['id']}").status_code == 403
    assert add(viewer, group["id"], device.device_id).status_code == 403
    preview = {"org_id": tenant.org["id"], "rules": {"all": []}}
    assert ok(viewer.post(f"{GROUPS}/preview", json=preview))["total"] == 1


def test_other_tenant_gets_404(admin: httpx.Client, tenant: Tenant, mailbox: Mailbox) -> None:
    group = make_group(admin, tenant)
    other = make_tenant(admin)
    outsider = make_member(admin, mailbox, role="Org Admin", org_id=other.org["id"])
    path = f"{GROUPS}/{group['id']}"
    assert outsider.get(path).status_code == 404
    assert outsider.get(f"{path}/members").status_code == 404
    assert outsider.patch(path, json={"name": "mine"}).status_code == 404
    assert outsider.delete(path).status_code == 404
    assert add(outsider, group["id"], enroll_device(admin, other).device_id).status_code == 404
    seen = ok(outsider.get(GROUPS, params={"per_page": 200}))["items"]
    assert {g["org_id"] for g in seen} <= {other.org["id"]}
    body = {"org_id": tenant.org["id"], "rules": {"all": []}}
    assert outsider.post(f"{GROUPS}/preview", json=body).status_code == 404
    child = {"org_id": other.org["id"], "name": "c", "type": "static", "parent_id": group["id"]}
    assert outsider.post(GROUPS, json=child).status_code == 404
    assert ok(admin.get(path))["name"] == group["name"]
