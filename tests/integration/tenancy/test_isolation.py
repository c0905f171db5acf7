"""Tenant isolation, generated from the OpenAPI document.

For every operation whose path names a tenant resource, principals of another
tenant (an Org Admin of another organization and a Partner Admin of another
partner) get 404 or 403 when they aim at tenant A's rows, and tenant A's rows are
unchanged afterwards. Every list leaves tenant A's rows out for them. A path
parameter this test does not know fails the test, so new endpoints are covered.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.factories import make_member, make_site, make_tenant, ok, unique
from tests.support.mailbox import Mailbox

# The caller's own account, and the agent gateway (agent tokens, not user principals).
NOT_TENANT_SCOPED = ("/api/v1/auth/", "/api/v1/agents/")
VOLATILE = {"last_used_at", "updated_at", "last_login_at", "pages", "total"}


class World:
    def __init__(self, admin: httpx.Client, mailbox: Mailbox) -> None:
        self.a = make_tenant(admin)
        b = make_tenant(admin)
        self.member_a = make_member(admin, mailbox, role="Org Technician", org_id=self.a.org["id"])
        self.member_a_id = ok(self.member_a.get("/api/v1/auth/me"))["id"]
        self.session_a = ok(self.member_a.get("/api/v1/auth/sessions"))[0]["id"]
        self.role_a = ok(
            admin.post(
                "/api/v1/roles",
                json={
                    "name": unique("role"),
                    "scope": "organization",
                    "org_id": self.a.org["id"],
                    "permissions": ["orgs:read", "sites:read"],
                },
            ),
            201,
        )
        self.key_a = ok(
            admin.post(
                "/api/v1/api-keys",
                json={
                    "name": unique("key"),
                    "org_id": self.a.org["id"],
                    "permissions": ["orgs:read"],
                },
            ),
            201,
        )
        self.enrollment_key_a = ok(
            admin.post(
                "/api/v1/enrollment-keys",
                json={"name": unique("enroll"), "org_id": self.a.org["id"]},
            ),
            201,
        )
        self.device_a = ok(
            admin.post(
                "/api/v1/agents/enroll",
                json={
                    "enrollment_key": self.enrollment_key_a["key"],
                    "machine_id": unique("machine-id"),
                    "hostname": unique("host"),
                    "os_type": "linux",
                    "agent_version": "0.1.0",
                },
            )
        )
        self.script_a = ok(
            admin.post(
                "/api/v1/scripts",
                json={
                    "name": unique("script"),
                    "org_id": self.a.org["id"],
                    "os_types": ["linux"],
                    "language": "bash",
                    "content": "echo hi\n",
                },
            ),
            201,
        )
        self.run_a = ok(
            admin.post(
                f"/api/v1/scripts/{self.script_a['id']}/execute",
                json={"device_ids": [self.device_a["device_id"]]},
            ),
            201,
        )
        self.field_a = ok(
            admin.post(
                "/api/v1/custom-fields",
                json={
                    "org_id": self.a.org["id"],
                    "key": "asset_tag",
                    "name": "Asset tag",
                    "type": "text",
                },
            ),
            201,
        )
        self.view_a = ok(
            self.member_a.post(
                "/api/v1/saved-views", json={"name": unique("view"), "filters": {"tag": "web"}}
            ),
            201,
        )
        self.group_a = ok(
            admin.post(
                "/api/v1/device-groups",
                json={"org_id": self.a.org["id"], "name": unique("group"), "type": "static"},
            ),
            201,
        )
        self.audit_a = ok(
            admin.get("/api/v1/audit/logs", params={"org_id": self.a.org["id"], "per_page": 1})
        )["items"][0]
        self.outsiders = {
            "org admin of another org": make_member(
                admin, mailbox, role="Org Admin", org_id=b.org["id"]
            ),
            "partner admin of another partner": make_member(
                admin, mailbox, role="Partner Admin", partner_id=b.partner["id"]
            ),
        }
        self.ids = {
            "partner_id": self.a.partner["id"],
            "org_id": self.a.org["id"],
            "site_id": self.a.site["id"],
            "user_id": self.member_a_id,
            "role_id": self.role_a["id"],
            "key_id": self.key_a["id"],
            "api_key_id": self.key_a["id"],
            "session_id": self.session_a,
            "log_id": self.audit_a["id"],
            "audit_id": self.audit_a["id"],
            "device_id": self.device_a["device_id"],
            "script_id": self.script_a["id"],
            "version": 1,
            "command_id": self.run_a["executions"][0]["id"],
            "execution_id": self.run_a["executions"][0]["id"],
            "batch_id": self.run_a["batch"]["id"],
            "field_id": self.field_a["id"],
            "view_id": self.view_a["id"],
            "group_id": self.group_a["id"],
        }

    def id_for(self, param: str, path: str) -> str:
        if param == "key_id" and path.startswith("/api/v1/enrollment-keys"):
            return str(self.enrollment_key_a["id"])
        return str(self.ids[param])

    def snapshot(self, admin: httpx.Client) -> dict[str, Any]:
        a = self.a
        reads = {
            "partner": f"/api/v1/partners/{a.partner['id']}",
            "org": f"/api/v1/orgs/{a.org['id']}",
            "site": f"/api/v1/sites/{a.site['id']}",
            "sites": f"/api/v1/orgs/{a.org['id']}/sites",
            "user": f"/api/v1/users/{self.member_a_id}",
            "users": f"/api/v1/users?org_id={a.org['id']}",
            "role": f"/api/v1/roles/{self.role_a['id']}",
            "key": f"/api/v1/api-keys/{self.key_a['id']}",
            "sessions": f"/api/v1/users/{self.member_a_id}/sessions",
            "device": f"/api/v1/devices/{self.device_a['device_id']}",
            "enrollment_key": f"/api/v1/enrollment-keys/{self.enrollment_key_a['id']}",
            "script": f"/api/v1/scripts/{self.script_a['id']}",
            "execution": f"/api/v1/script-executions/{self.run_a['executions'][0]['id']}",
            "batch": f"/api/v1/script-batches/{self.run_a['batch']['id']}",
            "field": f"/api/v1/custom-fields/{self.field_a['id']}",
            "device_fields": f"/api/v1/devices/{self.device_a['device_id']}/custom-fields",
            "group": f"/api/v1/device-groups/{self.group_a['id']}",
        }
        return {name: _stable(ok(admin.get(path))) for name, path in reads.items()}


def _stable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec["components"]["schemas"][name]
    if "anyOf" in schema:
        options = [s for s in schema["anyOf"] if s.get("type") != "null"]
        return _resolve(spec, options[0]) if options else {"type": "null"}
    return schema


def _example(
    spec: dict[str, Any], schema: dict[str, Any], ids: dict[str, str], name: str = ""
) -> Any:
    schema = _resolve(spec, schema)
    if "enum" in schema:
        return schema["enum"][0]
    kind, fmt = schema.get("type"), schema.get("format")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        wanted = set(schema.get("required", [])) | ({"name"} & set(props))
        return {p: _example(spec, props[p], ids, p) for p in wanted}
    if kind == "array":
        return ["orgs:read"] if name == "permissions" else []
    if fmt == "uuid":
        return ids.get(name, ids["org_id"])
    if fmt == "email":
        return f"{unique('x')}@example.com"
    if fmt == "date-time":
        return "2031-01-01T00:00:00Z"
    if fmt == "date":
        return "2031-01-01"
    if kind == "integer" or kind == "number":
        return max(1, int(schema.get("minimum", 1)))
    if kind == "boolean":
        return False
    if name in {"password", "new_password", "current_password"}:
        return "ochre-tundra-violin-5521"
    return "hijacked-" + unique("v")[-6:]


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for path, methods in spec["paths"].items():
        if "{" not in path or path.startswith(NOT_TENANT_SCOPED):
            continue
        for method, op in methods.items():
            found.append((method.upper(), path, op))
    return found


@pytest.fixture(scope="module")
def world(admin: httpx.Client, mailbox: Mailbox) -> World:
    return World(admin, mailbox)


def test_cross_tenant_access_is_refused_and_changes_nothing(
    world: World, admin: httpx.Client, anon: httpx.Client
) -> None:
    spec = anon.get("/api/v1/openapi.json").json()
    before = world.snapshot(admin)
    operations = _operations(spec)
    assert len(operations) >= 15, [p for _, p, _ in operations]
    leaks: list[str] = []
    for method, path, op in operations:
        params = re.findall(r"{(\w+)}", path)
        unknown = [p for p in params if p not in world.ids]
        assert not unknown, f"{method} {path}: teach this test the parameter(s) {unknown}"
        url = path.format(**{p: world.id_for(p, path) for p in params})
        body = None
        if "requestBody" in op:
            content = op["requestBody"]["content"]
            media = content.get("application/json", next(iter(content.values())))
            body = _example(spec, media["schema"], world.ids)
        for who, client in world.outsiders.items():
            r = client.request(method, url, json=body)
            if r.status_code not in (403, 404):
                leaks.append(f"{who}: {method} {url} -> {r.status_code} {r.text[:200]}")
    assert not leaks, "\n".join(leaks)
    assert world.snapshot(admin) == before


def test_lists_leave_out_other_tenants_rows(world: World) -> None:
    a = world.a
    foreign = {
        a.partner["id"],
        a.org["id"],
        a.site["id"],
        world.member_a_id,
        world.role_a["id"],
        world.key_a["id"],
        world.audit_a["id"],
        world.device_a["device_id"],
        world.enrollment_key_a["id"],
        world.script_a["id"],
        world.run_a["executions"][0]["id"],
        world.field_a["id"],
        world.group_a["id"],
    }
    for who, client in world.outsiders.items():
        for path in (
            "/api/v1/partners",
            "/api/v1/orgs",
            "/api/v1/devices",
            "/api/v1/enrollment-keys",
            "/api/v1/sites",
            "/api/v1/users",
            "/api/v1/roles",
            "/api/v1/api-keys",
            "/api/v1/audit/logs",
            "/api/v1/scripts",
            "/api/v1/script-executions",
            "/api/v1/custom-fields",
            "/api/v1/device-groups",
        ):
            items = ok(client.get(path, params={"per_page": 200}))["items"]
            seen = {i["id"] for i in items} & foreign
            assert not seen, f"{who} sees tenant A rows in {path}: {seen}"


def test_a_member_only_sees_their_own_tenant(
    world: World, admin: httpx.Client, mailbox: Mailbox
) -> None:
    orgs = ok(world.member_a.get("/api/v1/orgs"))["items"]
    assert [o["id"] for o in orgs] == [world.a.org["id"]]
    other_site = make_site(admin, world.a.org["id"])
    scoped = make_member(
        admin, mailbox, role="Org Viewer", org_id=world.a.org["id"], site_ids=[world.a.site["id"]]
    )
    sites = {s["id"] for s in ok(scoped.get("/api/v1/sites"))["items"]}
    assert sites == {world.a.site["id"]}
    assert scoped.get(f"/api/v1/sites/{other_site['id']}").status_code == 404
