"""Helpers of the tag, custom field, filter, bulk and export tests."""

from __future__ import annotations

from typing import Any

import httpx

from tests.factories import ok


def make_field(api: httpx.Client, org_id: str, key: str, type: str, **more: Any) -> dict[str, Any]:
    body = {"org_id": org_id, "key": key, "name": key.replace("_", " ").title(), "type": type}
    return ok(api.post("/api/v1/custom-fields", json={**body, **more}), 201)  # type: ignore[no-any-return]


def set_values(api: httpx.Client, device_id: str, values: dict[str, Any]) -> dict[str, Any]:
    rows = ok(api.patch(f"/api/v1/devices/{device_id}/custom-fields", json=values))
    return {r["key"]: r["value"] for r in rows}


def device_ids(api: httpx.Client, **params: Any) -> set[str]:
    params.setdefault("per_page", 200)
    return {d["id"] for d in ok(api.get("/api/v1/devices", params=params))["items"]}


def audit_rows(api: httpx.Client, action: str, **params: Any) -> list[dict[str, Any]]:
    params = {"action": action, "per_page": 200, **params}
    return ok(api.get("/api/v1/audit/logs", params=params))["items"]  # type: ignore[no-any-return]


def problem_fields(response: httpx.Response, status: int = 422) -> list[str]:
    assert response.status_code == status, response.text
    return [e["field"] for e in response.json().get("errors", [])]
