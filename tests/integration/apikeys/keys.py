"""Helpers shared by the API key and audit tests."""

from __future__ import annotations

from typing import Any

import httpx

from tests.factories import ok, unique


def make_key(
    api: httpx.Client,
    permissions: list[str],
    *,
    partner_id: str | None = None,
    org_id: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {"name": unique("key"), "permissions": permissions, **fields}
    if partner_id:
        body["partner_id"] = partner_id
    if org_id:
        body["org_id"] = org_id
    return ok(api.post("/api/v1/api-keys", json=body), 201)


def key_client(api: httpx.Client, raw: str, *, header: str = "bearer") -> httpx.Client:
    """A client that authenticates with an API key, as a Bearer token or in X-API-Key."""
    headers = {"Authorization": f"Bearer {raw}"} if header == "bearer" else {"X-API-Key": raw}
    return httpx.Client(base_url=str(api.base_url), headers=headers, timeout=30)
