"""Library scripts run by the real agent on this machine: a built-in and a custom script
with a parameter and a secret. The execution completes with real output, the secret is
masked in the output and everywhere in the API, and the batch reaches completed."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlparse

import httpx

from tests.factories import Tenant, ok, unique
from tests.integration.agent_e2e.conftest import AgentProcess, enrollment_key, eventually
from tests.support.server import LiveServer

SECRET = "e2e-Secret-7f3c91"
SCRIPT_PATHS = {
    ("post", "/api/v1/scripts/{script_id}/execute"),
    ("get", "/api/v1/script-executions/{execution_id}"),
    ("post", "/api/v1/agents/{agent_id}/commands/{command_id}/result"),
}


def _running_agent(
    admin: httpx.Client, server: LiveServer, tenant: Tenant, agent: AgentProcess
) -> str:
    paths: dict[str, Any] = ok(admin.get("/api/v1/openapi.json"))["paths"]
    missing = [f"{m} {p}" for m, p in SCRIPT_PATHS if m not in paths.get(p, {})]
    assert not missing, f"the server does not offer {missing}"
    config = agent.enroll(server.url, enrollment_key(admin, tenant.org["id"]))
    agent.start()
    return config.device_id


def _finished(admin: httpx.Client, execution_id: str) -> dict[str, Any] | None:
    detail: dict[str, Any] = ok(admin.get(f"/api/v1/script-executions/{execution_id}"))
    return detail if detail["status"] in ("completed", "failed", "timeout", "cancelled") else None


def _run(admin: httpx.Client, script_id: str, device_id: str, **body: Any) -> dict[str, Any]:
    answer = ok(
        admin.post(
            f"/api/v1/scripts/{script_id}/execute", json={"device_ids": [device_id], **body}
        ),
        201,
    )
    (execution,) = answer["executions"]
    detail = eventually(
        lambda: _finished(admin, execution["id"]), timeout=60, what="the script to finish"
    )
    return {"batch": answer["batch"], "detail": detail}


def test_builtin_and_custom_scripts_on_the_real_agent(
    e2e_admin: httpx.Client,
    e2e_server: LiveServer,
    e2e_tenant: Tenant,
    agent: AgentProcess,
) -> None:
    admin = e2e_admin
    device_id = _running_agent(admin, e2e_server, e2e_tenant, agent)
    system = ok(admin.get("/api/v1/scripts", params={"is_system": "true", "per_page": 200}))
    ports = next(s for s in system["items"] if s["name"] == "List listening ports")

    done = _run(admin, ports["id"], device_id)
    detail = done["detail"]
    assert detail["status"] == "completed", (detail, agent.log()[-3000:])
    assert detail["exit_code"] == 0
    assert "# source:" in detail["stdout"]
    # The server this test talks to is listening on this machine.
    assert f":{urlparse(e2e_server.url).port}" in detail["stdout"], detail["stdout"]

    custom = ok(
        admin.post(
            "/api/v1/scripts",
            json={
                "name": unique("e2e"),
                "org_id": e2e_tenant.org["id"],
                "os_types": ["linux"],
                "language": "bash",
                "content": 'echo "greeting=$GREETING x$COUNT"\necho "token=$API_TOKEN"\n'
                'echo "to stderr" >&2\n',
                "parameters": {
                    "type": "object",
                    "properties": {
                        "GREETING": {"type": "string"},
                        "COUNT": {"type": "integer", "default": 2},
                        "API_TOKEN": {"type": "string", "writeOnly": True},
                    },
                    "required": ["GREETING", "API_TOKEN"],
                },
            },
        ),
        201,
    )
    done = _run(
        admin, custom["id"], device_id, parameters={"GREETING": "hi there", "API_TOKEN": SECRET}
    )
    detail, batch = done["detail"], done["batch"]
    assert detail["status"] == "completed", (detail, agent.log()[-3000:])
    assert detail["stdout"].splitlines()[0] == "greeting=hi there x2"
    assert "token=********" in detail["stdout"]
    assert "to stderr" in detail["stderr"]
    assert detail["parameters"] == {"GREETING": "hi there", "COUNT": "2", "API_TOKEN": "********"}

    final = eventually(
        lambda: (
            (b := ok(admin.get(f"/api/v1/script-batches/{batch['id']}")))["status"] == "completed"
            and b
        ),
        timeout=30,
        what="the batch to complete",
    )
    assert final["progress"]["completed"] == final["progress"]["total"] == 1
    seen = json.dumps(
        [
            detail,
            final,
            ok(admin.get("/api/v1/script-executions", params={"batch_id": batch["id"]})),
            ok(admin.get(f"/api/v1/devices/{device_id}/commands")),
            ok(admin.get("/api/v1/audit/logs", params={"per_page": 200})),
        ]
    )
    assert SECRET not in seen
