"""Helpers of the device group tests."""

from __future__ import annotations

from typing import Any

import httpx

from tests.factories import Tenant, ok, unique

GROUPS = "/api/v1/device-groups"


def make_group(api: httpx.Client, tenant: Tenant, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"org_id": tenant.org["id"], "name": unique("group"), "type": "static"}
    body.update(fields)
    return ok(api.post(GROUPS, json=body), 201)  # type: ignore[no-any-return]


def dynamic(
    api: httpx.Client, tenant: Tenant, rules: dict[str, Any], **fields: Any
) -> dict[str, Any]:
    return make_group(api, tenant, type="dynamic", rules=rules, **fields)


def members(api: httpx.Client, group_id: str, **params: Any) -> list[dict[str, Any]]:
    params.setdefault("per_page", 200)
    return ok(api.get(f"{GROUPS}/{group_id}/members", params=params))["items"]  # type: ignore[no-any-return]


def member_ids(api: httpx.Client, group_id: str) -> set[str]:
    return {m["device_id"] for m in members(api, group_id)}


def add(api: httpx.Client, group_id: str, *device_ids: str) -> httpx.Response:
    return api.post(f"{GROUPS}/{group_id}/members", json={"device_ids": list(device_ids)})


def remove(api: httpx.Client, group_id: str, *device_ids: str) -> httpx.Response:
    return api.request(
        "DELETE", f"{GROUPS}/{group_id}/members", json={"device_ids": list(device_ids)}
    )


def error_fields(response: httpx.Response, status: int = 422) -> list[str]:
    assert response.status_code == status, response.text
    return [e["field"] for e in response.json().get("errors", [])]
