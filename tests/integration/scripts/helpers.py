"""Helpers of the script tests: script bodies, enrolled devices, and a protocol-level agent
(heartbeat, ack, result) that shows what a device really receives."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from tests.factories import Tenant, ok, unique

SECRET_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "GREETING": {"type": "string", "default": "hello", "maxLength": 40},
        "COUNT": {"type": "integer", "minimum": 1, "maximum": 5, "default": 2},
        "LOUD": {"type": "boolean", "default": False},
        "API_TOKEN": {"type": "string", "writeOnly": True, "minLength": 8},
    },
    "required": ["API_TOKEN"],
}


def script_body(tenant: Tenant, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": unique("script"),
        "description": "prints a greeting",
        "category": "testing",
        "os_types": ["linux"],
        "language": "bash",
        "content": 'echo "$GREETING"\n',
        "org_id": tenant.org["id"],
    }
    body.update(fields)
    return body


def make_script(api: httpx.Client, tenant: Tenant, **fields: Any) -> dict[str, Any]:
    return ok(api.post("/api/v1/scripts", json=script_body(tenant, **fields)), 201)  # type: ignore[no-any-return]


def fields_of(response: httpx.Response, status: int = 422) -> list[str]:
    assert response.status_code == status, response.text
    return [e["field"] for e in response.json().get("errors", [])]


@dataclass
class FakeAgent:
    """Speaks the agent protocol over HTTP (no process): what a device is handed."""

    base_url: str
    agent_id: str
    device_id: str
    token: str

    def _client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=30,
        )

    def heartbeat(self) -> list[dict[str, Any]]:
        body = {
            "status": "online",
            "agent_version": "0.1.0",
            "metrics": {
                "cpu_percent": 1.0,
                "ram_percent": 1.0,
                "ram_used_mb": 1,
                "disk_percent": 1.0,
                "disk_used_gb": 1.0,
                "network_in_bytes": 0,
                "network_out_bytes": 0,
                "process_count": 1,
                "custom": {},
            },
            "pending_reboot": False,
            "uptime_seconds": 60,
        }
        with self._client() as c:
            answer = ok(c.post(f"/api/v1/agents/{self.agent_id}/heartbeat", json=body))
        return answer["commands"]  # type: ignore[no-any-return]

    def ack(self, command_id: str) -> None:
        with self._client() as c:
            ok(c.post(f"/api/v1/agents/{self.agent_id}/commands/{command_id}/ack", json={}), 204)

    def result(self, command_id: str, **fields: Any) -> None:
        body = {"status": "completed", "exit_code": 0, "stdout": "", "stderr": "", **fields}
        with self._client() as c:
            ok(
                c.post(f"/api/v1/agents/{self.agent_id}/commands/{command_id}/result", json=body),
                204,
            )


def enroll_device(
    admin: httpx.Client,
    tenant: Tenant,
    *,
    site: dict[str, Any] | None = None,
    os_type: str = "linux",
    hostname: str | None = None,
) -> FakeAgent:
    site = site or tenant.site
    key = ok(
        admin.post(
            "/api/v1/enrollment-keys",
            json={"name": unique("key"), "org_id": site["org_id"], "site_id": site["id"]},
        ),
        201,
    )
    body = {
        "enrollment_key": key["key"],
        "machine_id": uuid.uuid4().hex,
        "hostname": hostname or unique("host"),
        "os_type": os_type,
        "os_version": "12",
        "architecture": "x86_64",
        "agent_version": "0.1.0",
    }
    with httpx.Client(base_url=str(admin.base_url), timeout=30) as anon:
        enrolled = anon.post("/api/v1/agents/enroll", json=body)
    assert enrolled.status_code in (200, 201), enrolled.text
    data = enrolled.json()
    return FakeAgent(str(admin.base_url), data["agent_id"], data["device_id"], data["auth_token"])


def audit_rows(api: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    params.setdefault("per_page", 200)
    return ok(api.get("/api/v1/audit/logs", params=params))["items"]  # type: ignore[no-any-return]
