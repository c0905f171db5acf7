"""The script library API: CRUD, versions, validation, system scripts, tenancy, roles."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.factories import Tenant, make_member, make_tenant, ok
from tests.integration.scripts.helpers import (
    SECRET_SCHEMA,
    audit_rows,
    fields_of,
    make_script,
    script_body,
)
from tests.support.mailbox import Mailbox

LISTENING_PORTS = "List listening ports"
BUILTIN_NAMES = {
    "Disk usage report",
    "Top processes",
    "Restart a service",
    "Clear temporary files",
    LISTENING_PORTS,
}


def scripts(api: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    params.setdefault("per_page", 200)
    return ok(api.get("/api/v1/scripts", params=params))["items"]  # type: ignore[no-any-return]


def test_create_get_update_versions_delete(admin: httpx.Client, tenant: Tenant) -> None:
    created = make_script(admin, tenant, parameters=SECRET_SCHEMA, timeout_seconds=60)
    sid = created["id"]
    assert created["version"] == 1
    assert created["org_id"] == tenant.org["id"]
    assert created["partner_id"] == tenant.partner["id"]
    assert created["is_system"] is False
    assert created["parameters"]["required"] == ["API_TOKEN"]
    assert ok(admin.get(f"/api/v1/scripts/{sid}"))["content"] == 'echo "$GREETING"\n'

    changed = ok(admin.patch(f"/api/v1/scripts/{sid}", json={"content": "echo changed\n"}))
    assert changed["version"] == 2
    # An edit that changes nothing stores no version.
    same = ok(admin.patch(f"/api/v1/scripts/{sid}", json={"content": "echo changed\n"}))
    assert same["version"] == 2
    ok(admin.patch(f"/api/v1/scripts/{sid}", json={"run_as": "nobody", "timeout_seconds": 30}))

    versions = ok(admin.get(f"/api/v1/scripts/{sid}/versions"))
    assert [v["version"] for v in versions["items"]] == [3, 2, 1]
    assert versions["items"][0]["changed_by_name"] == "root@example.com"
    v1 = ok(admin.get(f"/api/v1/scripts/{sid}/versions/1"))
    assert v1["content"] == 'echo "$GREETING"\n'
    assert v1["timeout_seconds"] == 60
    v3 = ok(admin.get(f"/api/v1/scripts/{sid}/versions/3"))
    assert (v3["content"], v3["run_as"], v3["timeout_seconds"]) == ("echo changed\n", "nobody", 30)
    assert admin.get(f"/api/v1/scripts/{sid}/versions/9").status_code == 404

    actions = [r["action"] for r in audit_rows(admin, resource_id=sid)]
    assert sorted(actions) == ["script.create", "script.update", "script.update"]

    ok(admin.delete(f"/api/v1/scripts/{sid}"), 204)
    assert admin.get(f"/api/v1/scripts/{sid}").status_code == 404
    assert sid not in {s["id"] for s in scripts(admin)}
    assert "script.delete" in [r["action"] for r in audit_rows(admin, resource_id=sid)]
    assert admin.delete(f"/api/v1/scripts/{sid}").status_code == 404


def test_partner_wide_script_and_list_filters(admin: httpx.Client, tenant: Tenant) -> None:
    word = tenant.org["id"][:8]
    wide = make_script(
        admin,
        tenant,
        org_id=None,
        partner_id=tenant.partner["id"],
        name=f"Wide {word}",
        language="python",
        os_types=["linux", "macos"],
        content="print(1)\n",
    )
    assert wide["org_id"] is None and wide["partner_id"] == tenant.partner["id"]
    own = make_script(
        admin, tenant, name=f"Alpha {word}", description=f"about {word}", category="net"
    )
    found = {s["id"] for s in scripts(admin, q=word)}
    assert found == {wide["id"], own["id"]}
    assert [s["id"] for s in scripts(admin, q=word, language="python")] == [wide["id"]]
    assert [s["id"] for s in scripts(admin, q=word, os_type="macos")] == [wide["id"]]
    assert [s["id"] for s in scripts(admin, q=word, category="net")] == [own["id"]]
    assert [s["id"] for s in scripts(admin, q=word, sort="-name")] == [wide["id"], own["id"]]
    assert "content" not in scripts(admin, q=word)[0]
    assert admin.get("/api/v1/scripts", params={"sort": "nope"}).status_code == 422


def test_system_scripts_are_visible_and_read_only(
    admin: httpx.Client, tenant: Tenant, mailbox: Mailbox
) -> None:
    viewer = make_member(admin, mailbox, role="Org Viewer", org_id=tenant.org["id"])
    system = scripts(viewer, is_system="true")
    assert {s["name"] for s in system} >= BUILTIN_NAMES
    ports = next(s for s in system if s["name"] == LISTENING_PORTS)
    assert ports["partner_id"] is None and ports["os_types"] == ["linux"]
    full = ok(viewer.get(f"/api/v1/scripts/{ports['id']}"))
    assert "ss" in full["content"]
    restart = next(s for s in system if s["name"] == "Restart a service")
    assert restart["parameters"]["required"] == ["SERVICE_NAME"]
    for api in (admin, viewer):
        r = api.patch(f"/api/v1/scripts/{ports['id']}", json={"name": "mine"})
        assert r.status_code == 403, r.text
        assert "Built-in" in r.json()["detail"]
        assert api.delete(f"/api/v1/scripts/{ports['id']}").status_code == 403
    assert ok(admin.get(f"/api/v1/scripts/{ports['id']}"))["name"] == LISTENING_PORTS


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": ""}, "name"),
        ({"os_types": []}, "os_types"),
        ({"os_types": ["linux", "linux"]}, "os_types"),
        ({"os_types": ["beos"]}, "os_types.0"),
        ({"language": "perl"}, "language"),
        ({"timeout_seconds": 0}, "timeout_seconds"),
        ({"timeout_seconds": 86_401}, "timeout_seconds"),
        ({"run_as": "root; rm -rf /"}, "run_as"),
        ({"color": "blue"}, "color"),
        ({"content": ""}, "content"),
        ({"language": "cmd"}, "os_types"),
        ({"parameters": {"type": "array"}}, "parameters.type"),
        ({"parameters": {"type": "object", "oneOf": []}}, "parameters.oneOf"),
        (
            {"parameters": {"type": "object", "properties": {"1BAD": {"type": "string"}}}},
            "parameters.properties.1BAD",
        ),
        (
            {"parameters": {"type": "object", "properties": {"PATH": {"type": "string"}}}},
            "parameters.properties.PATH",
        ),
        (
            {"parameters": {"type": "object", "properties": {"LD_PRELOAD": {"type": "string"}}}},
            "parameters.properties.LD_PRELOAD",
        ),
        (
            {"parameters": {"type": "object", "properties": {"breeze_x": {"type": "string"}}}},
            "parameters.properties.breeze_x",
        ),
        (
            {"parameters": {"type": "object", "properties": {"X": {"type": "object"}}}},
            "parameters.properties.X.type",
        ),
        (
            {"parameters": {"type": "object", "properties": {"X": {"type": "strin"}}}},
            "parameters.properties.X.type",
        ),
        (
            {"parameters": {"type": "object", "properties": {"X": {"type": "string", "items": 1}}}},
            "parameters.properties.X.items",
        ),
        (
            {
                "parameters": {
                    "type": "object",
                    "properties": {"X": {"type": "integer", "default": "a"}},
                }
            },
            "parameters.properties.X.default",
        ),
        (
            {
                "parameters": {
                    "type": "object",
                    "properties": {"X": {"type": "string", "pattern": "("}},
                }
            },
            "parameters.properties.X.pattern",
        ),
        (
            {"parameters": {"type": "object", "properties": {}, "required": ["Y"]}},
            "parameters.required.0",
        ),
        (
            {"parameters": {"type": "object", "additionalProperties": True}},
            "parameters.additionalProperties",
        ),
    ],
)
def test_bad_input_names_the_field(
    admin: httpx.Client, tenant: Tenant, change: dict[str, Any], field: str
) -> None:
    r = admin.post("/api/v1/scripts", json=script_body(tenant, **change))
    assert field in fields_of(r), r.text


def test_update_validates_too(admin: httpx.Client, tenant: Tenant) -> None:
    sid = make_script(admin, tenant)["id"]
    bad = {"type": "object", "properties": {"HOME": {"type": "string"}}}
    r = admin.patch(f"/api/v1/scripts/{sid}", json={"parameters": bad})
    assert fields_of(r) == ["parameters.properties.HOME"]
    assert fields_of(admin.patch(f"/api/v1/scripts/{sid}", json={"name": None})) == ["name"]
    assert fields_of(admin.patch(f"/api/v1/scripts/{sid}", json={"org_id": None})) == ["org_id"]
    assert ok(admin.get(f"/api/v1/scripts/{sid}"))["version"] == 1


def test_owner_must_be_exactly_one_visible_place(admin: httpx.Client, tenant: Tenant) -> None:
    both = script_body(tenant, partner_id=tenant.partner["id"])
    assert admin.post("/api/v1/scripts", json=both).status_code == 422
    neither = script_body(tenant, org_id=None)
    assert admin.post("/api/v1/scripts", json=neither).status_code == 422


def test_tenant_isolation(admin: httpx.Client, tenant: Tenant, mailbox: Mailbox) -> None:
    theirs = make_script(admin, tenant)
    other = make_tenant(admin)
    outsider = make_member(admin, mailbox, role="Org Admin", org_id=other.org["id"])
    partner_admin = make_member(
        admin, mailbox, role="Partner Admin", partner_id=other.partner["id"]
    )
    for api in (outsider, partner_admin):
        assert api.get(f"/api/v1/scripts/{theirs['id']}").status_code == 404
        assert api.get(f"/api/v1/scripts/{theirs['id']}/versions").status_code == 404
        assert api.get(f"/api/v1/scripts/{theirs['id']}/versions/1").status_code == 404
        assert api.patch(f"/api/v1/scripts/{theirs['id']}", json={"name": "x"}).status_code == 404
        assert api.delete(f"/api/v1/scripts/{theirs['id']}").status_code == 404
        assert theirs["id"] not in {s["id"] for s in scripts(api)}
        # Creating in someone else's organization: 404, as for any invisible row.
        assert api.post("/api/v1/scripts", json=script_body(tenant)).status_code == 404
    mine = make_script(outsider, other)
    assert {s["id"] for s in scripts(outsider, is_system="false")} == {mine["id"]}
    assert ok(admin.get(f"/api/v1/scripts/{theirs['id']}"))["version"] == 1


def test_roles(admin: httpx.Client, tenant: Tenant, mailbox: Mailbox) -> None:
    viewer = make_member(admin, mailbox, role="Org Viewer", org_id=tenant.org["id"])
    tech = make_member(admin, mailbox, role="Org Technician", org_id=tenant.org["id"])
    assert viewer.post("/api/v1/scripts", json=script_body(tenant)).status_code == 403
    made = make_script(tech, tenant)
    assert ok(viewer.get(f"/api/v1/scripts/{made['id']}"))["id"] == made["id"]
    assert viewer.patch(f"/api/v1/scripts/{made['id']}", json={"name": "v"}).status_code == 403
    # Technicians write but do not delete.
    ok(tech.patch(f"/api/v1/scripts/{made['id']}", json={"description": "better"}))
    assert tech.delete(f"/api/v1/scripts/{made['id']}").status_code == 403
    ok(admin.delete(f"/api/v1/scripts/{made['id']}"), 204)


def test_non_finite_numbers_are_refused(admin: httpx.Client, tenant: Tenant) -> None:
    # Python's JSON reader accepts NaN and Infinity; JSON columns cannot hold them.
    params = {"type": "object", "properties": {"X": {"type": "number", "minimum": float("inf")}}}
    r = admin.post(
        "/api/v1/scripts",
        content=json.dumps(script_body(tenant, parameters=params)),
        headers={"content-type": "application/json"},
    )
    assert fields_of(r) == ["parameters.properties.X.minimum"]
