"""Factories that build tenants and users through the real API."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from tests.support.mailbox import Mailbox

MEMBER_PASSWORD = "amber-window-gravel-4821"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def client(base_url: str, token: str | None = None, **headers: str) -> httpx.Client:
    h = dict(headers)
    if token:
        h["Authorization"] = f"Bearer {token}"
    return httpx.Client(base_url=base_url, headers=h, timeout=30)


def login(base_url: str, email: str, password: str) -> httpx.Client:
    with httpx.Client(base_url=base_url, timeout=30) as anon:
        r = anon.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    body = r.json()
    assert "access_token" in body, body
    c = client(base_url, body["access_token"])
    c.refresh_token = body["refresh_token"]  # type: ignore[attr-defined]
    return c


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    return response.json() if response.content else None


def make_partner(admin: httpx.Client, **fields: Any) -> dict[str, Any]:
    return ok(admin.post("/api/v1/partners", json={"name": unique("Partner"), **fields}), 201)


def make_org(admin: httpx.Client, partner_id: str, **fields: Any) -> dict[str, Any]:
    body = {"partner_id": partner_id, "name": unique("Org"), **fields}
    return ok(admin.post("/api/v1/orgs", json=body), 201)


def make_site(admin: httpx.Client, org_id: str, **fields: Any) -> dict[str, Any]:
    return ok(
        admin.post(f"/api/v1/orgs/{org_id}/sites", json={"name": unique("Site"), **fields}), 201
    )


def role_id(api: httpx.Client, name: str) -> str:
    roles = ok(api.get("/api/v1/roles", params={"is_system": "true", "per_page": 200}))["items"]
    return next(r["id"] for r in roles if r["name"] == name)


@dataclass
class Tenant:
    """A partner with one organization and one site."""

    partner: dict[str, Any]
    org: dict[str, Any]
    site: dict[str, Any]


def make_tenant(admin: httpx.Client) -> Tenant:
    partner = make_partner(admin)
    org = make_org(admin, partner["id"])
    return Tenant(partner, org, make_site(admin, org["id"]))


def invite(
    inviter: httpx.Client,
    *,
    email: str,
    role: str,
    partner_id: str | None = None,
    org_id: str | None = None,
    **membership: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "email": email,
        "name": email.split("@")[0],
        "role_id": role_id(inviter, role),
        **membership,
    }
    if partner_id:
        body["partner_id"] = partner_id
    if org_id:
        body["org_id"] = org_id
    return ok(inviter.post("/api/v1/users", json=body), 201)


def make_member(
    admin: httpx.Client,
    mailbox: Mailbox,
    *,
    role: str,
    partner_id: str | None = None,
    org_id: str | None = None,
    **membership: Any,
) -> httpx.Client:
    """Invite a user into a partner or organization, accept, and sign them in."""
    email = f"{unique('user')}@example.com"
    invite(admin, email=email, role=role, partner_id=partner_id, org_id=org_id, **membership)
    token = mailbox.token_for(email, subject="invit")
    base = str(admin.base_url)
    with httpx.Client(base_url=base, timeout=30) as anon:
        ok(
            anon.post(
                "/api/v1/auth/accept-invitation", json={"token": token, "password": MEMBER_PASSWORD}
            )
        )
    member = login(base, email, MEMBER_PASSWORD)
    member.email = email  # type: ignore[attr-defined]
    return member
