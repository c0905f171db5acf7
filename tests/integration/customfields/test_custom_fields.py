"""Custom field definitions (CRUD, validation, permissions, tenancy) and device values."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.factories import Tenant, make_member, make_tenant, ok
from tests.integration.devices.agents import Agent, enroll
from tests.integration.devices.selection import (
    audit_rows,
    device_ids,
    make_field,
    problem_fields,
    set_values,
)
from tests.support.mailbox import Mailbox
from tests.support.server import LiveServer


class World:
    def __init__(self, server: LiveServer, admin: httpx.Client, mailbox: Mailbox) -> None:
        self.tenant: Tenant = make_tenant(admin)
        self.org = self.tenant.org["id"]
        self.a: Agent = enroll(server, admin, self.tenant)
        self.b: Agent = enroll(server, admin, self.tenant)
        self.viewer = make_member(admin, mailbox, role="Org Viewer", org_id=self.org)
        other = make_tenant(admin)
        self.outsider = make_member(admin, mailbox, role="Org Admin", org_id=other.org["id"])


@pytest.fixture(scope="module")
def world(server: LiveServer, admin: httpx.Client, mailbox: Mailbox) -> World:
    return World(server, admin, mailbox)


def create(api: httpx.Client, body: dict[str, Any]) -> httpx.Response:
    return api.post("/api/v1/custom-fields", json=body)


def test_definitions_crud_and_validation(world: World, admin: httpx.Client) -> None:
    org = world.org
    field = make_field(admin, org, "asset_tag", "text", description="Inventory sticker")
    assert field["key"] == "asset_tag" and field["options"] == [] and not field["required"]
    assert (
        create(admin, {"org_id": org, "key": "asset_tag", "name": "x", "type": "text"}).status_code
        == 409
    )
    bad: list[tuple[dict[str, Any], str]] = [
        ({"key": "Asset"}, "key"),
        ({"key": "9lives"}, "key"),
        ({"key": "a" * 65}, "key"),
        ({"type": "colour"}, "type"),
        ({"type": "select"}, "options"),
        ({"type": "text", "options": ["a"]}, "options"),
        ({"type": "select", "options": ["a", "A"]}, "options"),
        ({"type": "select", "options": ["a,b"]}, "options.0"),
        ({"type": "number", "default_value": "seven"}, "default_value"),
        ({"type": "select", "options": ["a"], "default_value": "b"}, "default_value"),
        ({"type": "date", "default_value": "31/01/2030"}, "default_value"),
        ({"type": "text", "required": True}, "default_value"),
    ]
    for change, where in bad:
        body = {"org_id": org, "key": "k_field", "name": "K", "type": "text", **change}
        assert problem_fields(create(admin, body)) == [where], change
    assert problem_fields(create(admin, {"key": "no_org", "name": "x", "type": "text"})) == [
        "org_id"
    ]
    path = f"/api/v1/custom-fields/{field['id']}"
    assert problem_fields(admin.patch(path, json={"key": "other"})) == ["key"]
    assert problem_fields(admin.patch(path, json={"type": "number"})) == ["type"]
    assert problem_fields(admin.patch(path, json={"required": True})) == ["default_value"]
    changed = ok(admin.patch(path, json={"name": "Asset tag", "default_value": "none"}))
    assert changed["name"] == "Asset tag" and changed["default_value"] == "none"
    listed = ok(admin.get("/api/v1/custom-fields", params={"org_id": org}))["items"]
    assert field["id"] in {f["id"] for f in listed}
    assert audit_rows(admin, "custom_field.*", org_id=org, resource_id=field["id"])


def test_permissions_and_tenancy(world: World, admin: httpx.Client) -> None:
    field = make_field(admin, world.org, "rack", "text")
    path = f"/api/v1/custom-fields/{field['id']}"
    assert ok(world.viewer.get(path))["key"] == "rack"
    assert world.viewer.patch(path, json={"name": "x"}).status_code == 403
    assert world.viewer.delete(path).status_code == 403
    body = {"org_id": world.org, "key": "viewer_made", "name": "x", "type": "text"}
    assert create(world.viewer, body).status_code == 403
    for method in ("GET", "PATCH", "DELETE"):
        r = world.outsider.request(method, path, json={"name": "x"} if method == "PATCH" else None)
        assert r.status_code == 404, (method, r.text)
    assert create(world.outsider, {**body, "key": "outsider"}).status_code == 404
    listed = ok(world.outsider.get("/api/v1/custom-fields", params={"per_page": 200}))["items"]
    assert field["id"] not in {f["id"] for f in listed}
    values = f"/api/v1/devices/{world.a.device_id}/custom-fields"
    assert world.outsider.get(values).status_code == 404
    assert world.outsider.patch(values, json={"rack": "r1"}).status_code == 404
    assert world.viewer.patch(values, json={"rack": "r1"}).status_code == 403
    assert {v["key"] for v in ok(world.viewer.get(values))} >= {"rack"}


def test_device_values_validated_and_defaulted(world: World, admin: httpx.Client) -> None:
    org, device = world.org, world.b.device_id
    make_field(admin, org, "env", "select", options=["prod", "dev"], default_value="dev")
    make_field(admin, org, "cores", "number")
    make_field(admin, org, "managed", "boolean")
    make_field(admin, org, "warranty", "date")
    make_field(admin, org, "roles", "multiselect", options=["web", "db"])
    make_field(admin, org, "note", "text")
    make_field(admin, org, "owner", "text", required=True, default_value="it")
    rows = ok(admin.get(f"/api/v1/devices/{device}/custom-fields"))
    by_key = {r["key"]: r for r in rows}
    assert by_key["env"]["value"] == "dev" and by_key["env"]["is_default"] is True
    assert by_key["cores"]["value"] is None and by_key["owner"]["required"] is True
    assert by_key["roles"]["options"] == ["web", "db"]
    values = set_values(
        admin,
        device,
        {
            "env": "prod",
            "cores": 8.0,
            "managed": True,
            "warranty": "2030-01-31",
            "roles": ["web", "db", "web"],
            "note": "=cmd",
        },
    )
    assert values["env"] == "prod" and values["cores"] == 8 and values["managed"] is True
    assert values["roles"] == ["web", "db"] and values["note"] == "=cmd"
    path = f"/api/v1/devices/{device}/custom-fields"
    bad: list[tuple[dict[str, Any], str]] = [
        ({"nope": 1}, "custom_fields.nope"),
        ({"cores": "8"}, "custom_fields.cores"),
        ({"cores": True}, "custom_fields.cores"),
        ({"env": "qa"}, "custom_fields.env"),
        ({"warranty": "2030-02-30"}, "custom_fields.warranty"),
        ({"warranty": "20300131"}, "custom_fields.warranty"),
        ({"managed": "yes"}, "custom_fields.managed"),
        ({"roles": ["web", "cache"]}, "custom_fields.roles"),
        ({"roles": "web"}, "custom_fields.roles"),
        ({"note": 5}, "custom_fields.note"),
        ({"owner": None}, "custom_fields.owner"),
    ]
    for body, where in bad:
        assert problem_fields(admin.patch(path, json=body)) == [where], body
    assert problem_fields(admin.patch(path, json=[1])) == ["body"]
    rows = ok(admin.patch(path, json={"note": None, "owner": "ops"}))
    by_key = {r["key"]: r for r in rows}
    assert by_key["note"]["value"] is None and by_key["note"]["is_default"] is True
    assert by_key["owner"]["value"] == "ops" and by_key["owner"]["is_default"] is False
    assert by_key["env"]["value"] == "prod"  # untouched keys keep their values
    rows = audit_rows(admin, "device.custom_fields.update", org_id=org, resource_id=device)
    assert rows and rows[0]["details"]["changes"]["owner"] == [None, "ops"]
    assert rows[0]["details"]["source"] == "api"
    assert device in device_ids(admin, org_id=org, custom_field="owner:OPS")


def test_removing_an_option_in_use_is_refused(world: World, admin: httpx.Client) -> None:
    field = make_field(admin, world.org, "tier", "select", options=["gold", "silver", "bronze"])
    set_values(admin, world.a.device_id, {"tier": "gold"})
    path = f"/api/v1/custom-fields/{field['id']}"
    r = admin.patch(path, json={"options": ["silver"]})
    assert r.status_code == 409 and "gold" in r.text
    assert ok(admin.patch(path, json={"options": ["gold", "silver"]}))["options"] == [
        "gold",
        "silver",
    ]


def test_deleting_a_field_removes_its_values(world: World, admin: httpx.Client) -> None:
    org = world.org
    field = make_field(admin, org, "ticket", "text")
    set_values(admin, world.a.device_id, {"ticket": "T-1"})
    set_values(admin, world.b.device_id, {"ticket": "T-2"})
    assert device_ids(admin, org_id=org, custom_field="ticket:*") == {
        world.a.device_id,
        world.b.device_id,
    }
    assert admin.delete(f"/api/v1/custom-fields/{field['id']}").status_code == 204
    assert admin.get(f"/api/v1/custom-fields/{field['id']}").status_code == 404
    for agent in (world.a, world.b):
        keys = {r["key"] for r in ok(admin.get(f"/api/v1/devices/{agent.device_id}/custom-fields"))}
        assert "ticket" not in keys
    deleted = audit_rows(admin, "custom_field.delete", org_id=org, resource_id=field["id"])
    assert deleted[0]["details"]["devices_cleared"] == 2
    # A new field with the same key starts empty: the old values are gone.
    make_field(admin, org, "ticket", "text")
    assert device_ids(admin, org_id=org, custom_field="ticket:*") == set()
    rows = ok(admin.get(f"/api/v1/devices/{world.a.device_id}/custom-fields"))
    assert next(r for r in rows if r["key"] == "ticket")["value"] is None
