"""Inviting users by email, accepting with the emailed token, resending."""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.factories import MEMBER_PASSWORD, Tenant, client, invite, login, make_member, ok, unique
from tests.integration.users.dbtools import audit_actions, audit_rows, expire_invitations
from tests.support.mailbox import Mailbox
from tests.support.server import ADMIN_EMAIL, LiveServer

ACCEPT = "/api/v1/auth/accept-invitation"


def _email() -> str:
    return f"{unique('inv')}@example.com"


def _accept(anon: httpx.Client, token: str, **extra: Any) -> httpx.Response:
    return anon.post(ACCEPT, json={"token": token, "password": MEMBER_PASSWORD, **extra})


def _next_token(mailbox: Mailbox, email: str, previous: str, timeout: float = 15.0) -> str:
    """The token of an invitation mailed after the one carrying `previous`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        token = mailbox.token_for(email, subject="invitation")
        if token != previous:
            return token
        time.sleep(0.05)
    raise AssertionError(f"no new invitation mailed to {email}")


def _token_error(r: httpx.Response) -> None:
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"][0]["field"] == "token"


def test_invitation_email_arrives_and_accepting_signs_in(
    admin: httpx.Client,
    anon: httpx.Client,
    mailbox: Mailbox,
    tenant: Tenant,
    base_url: str,
    server: LiveServer,
) -> None:
    email = _email()
    user = invite(admin, email=email.upper(), role="Org Technician", org_id=tenant.org["id"])
    assert user["email"] == email and user["status"] == "invited"
    assert user["memberships"] == [
        {
            "kind": "organization",
            "partner_id": tenant.partner["id"],
            "org_id": tenant.org["id"],
            "role_id": user["memberships"][0]["role_id"],
            "role_name": "Org Technician",
            "org_access": None,
            "org_ids": None,
            "site_ids": None,
        }
    ]
    mail = mailbox.wait_for(email, subject="invitation")
    assert tenant.org["name"] in mail.subject
    assert f"{base_url}/accept-invitation?token=brz_inv_" in mail.body
    token = mailbox.token_for(email, subject="invitation")

    # An invited user cannot sign in before accepting.
    r = anon.post("/api/v1/auth/login", json={"email": email, "password": MEMBER_PASSWORD})
    assert r.status_code in (401, 403)

    pair = ok(_accept(anon, token, name="Ada Lovelace"))
    assert pair["token_type"] == "bearer" and pair["refresh_token"].startswith("brz_rt_")
    with client(base_url, pair["access_token"]) as member:
        me = ok(member.get("/api/v1/auth/me"))
        assert me["email"] == email and me["name"] == "Ada Lovelace"
        assert me["status"] == "active"
        assert [m["org_id"] for m in me["memberships"]] == [tenant.org["id"]]
        assert ok(member.get(f"/api/v1/orgs/{tenant.org['id']}"))["id"] == tenant.org["id"]
    login(base_url, email, MEMBER_PASSWORD).close()
    got = ok(admin.get(f"/api/v1/users/{user['id']}"))
    assert got["status"] == "active" and got["last_login_at"] is not None

    # Single use.
    _token_error(_accept(anon, token))
    assert audit_actions(server, user["id"]) == [
        "user.invite",
        "user.invitation.accept",
        "auth.login",
        "auth.login",
    ]
    invite_row = audit_rows(server, user["id"])[0]
    assert invite_row["org_id"] == tenant.org["id"]
    assert invite_row["partner_id"] == tenant.partner["id"]
    assert invite_row["actor_email"] == ADMIN_EMAIL
    assert invite_row["details"]["role_name"] == "Org Technician"


def test_garbage_and_expired_tokens_are_400(
    admin: httpx.Client, anon: httpx.Client, mailbox: Mailbox, tenant: Tenant, server: LiveServer
) -> None:
    for garbage in ("garbage", "", "brz_inv_" + "A" * 43):
        _token_error(_accept(anon, garbage))
    email = _email()
    invite(admin, email=email, role="Org Viewer", org_id=tenant.org["id"])
    token = mailbox.token_for(email, subject="invitation")
    expire_invitations(server, email)
    _token_error(_accept(anon, token))


def test_a_weak_password_is_refused_and_keeps_the_token_usable(
    admin: httpx.Client, anon: httpx.Client, mailbox: Mailbox, tenant: Tenant
) -> None:
    email = _email()
    invite(admin, email=email, role="Org Viewer", org_id=tenant.org["id"])
    token = mailbox.token_for(email, subject="invitation")
    for weak in ("short", "password1234", email):
        r = anon.post(ACCEPT, json={"token": token, "password": weak})
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["field"] == "password"
    ok(_accept(anon, token))


def test_resending_revokes_the_earlier_invitation(
    admin: httpx.Client, anon: httpx.Client, mailbox: Mailbox, tenant: Tenant, server: LiveServer
) -> None:
    email = _email()
    user = invite(admin, email=email, role="Org Viewer", org_id=tenant.org["id"])
    first = mailbox.token_for(email, subject="invitation")
    ok(admin.post(f"/api/v1/users/{user['id']}/resend-invitation"), 204)
    second = _next_token(mailbox, email, first)
    _token_error(_accept(anon, first))
    ok(_accept(anon, second))
    r = admin.post(f"/api/v1/users/{user['id']}/resend-invitation")
    assert r.status_code == 409
    assert "user.invitation.resend" in audit_actions(server, user["id"])


def test_inviting_an_existing_user_adds_a_membership_and_sends_a_notice(
    admin: httpx.Client, mailbox: Mailbox, tenant: Tenant
) -> None:
    member = make_member(admin, mailbox, role="Org Viewer", org_id=tenant.org["id"])
    email: str = member.email  # type: ignore[attr-defined]
    me = ok(member.get("/api/v1/auth/me"))
    other = ok(
        admin.post(
            "/api/v1/orgs", json={"partner_id": tenant.partner["id"], "name": unique("Org")}
        ),
        201,
    )
    user = invite(admin, email=email, role="Org Technician", org_id=other["id"])
    assert user["id"] == me["id"] and user["status"] == "active"
    assert {m["org_id"] for m in user["memberships"]} == {tenant.org["id"], other["id"]}
    notice = mailbox.wait_for(email, subject="access to")
    assert other["name"] in notice.body and "token=" not in notice.body
    assert ok(member.get(f"/api/v1/orgs/{other['id']}"))["id"] == other["id"]

    # Already a member there: 409, and nothing changes.
    r = admin.post(
        "/api/v1/users",
        json={"email": email, "org_id": other["id"], "role_id": user["memberships"][0]["role_id"]},
    )
    assert r.status_code == 409


def test_inviting_an_invited_user_again_issues_a_fresh_invitation(
    admin: httpx.Client, anon: httpx.Client, mailbox: Mailbox, tenant: Tenant
) -> None:
    email = _email()
    invite(admin, email=email, role="Org Viewer", org_id=tenant.org["id"])
    first = mailbox.token_for(email, subject="invitation")
    invite(admin, email=email, role="Partner Viewer", partner_id=tenant.partner["id"])
    second = _next_token(mailbox, email, first)
    _token_error(_accept(anon, first))
    with client(str(admin.base_url), ok(_accept(anon, second))["access_token"]) as member:
        kinds = {m["role_name"] for m in ok(member.get("/api/v1/auth/me"))["memberships"]}
    assert kinds == {"Org Viewer", "Partner Viewer"}


def test_bad_invitations_name_the_field(admin: httpx.Client, tenant: Tenant) -> None:
    roles = ok(admin.get("/api/v1/roles", params={"is_system": "true"}))["items"]
    org_viewer = next(r["id"] for r in roles if r["name"] == "Org Viewer")
    partner_viewer = next(r["id"] for r in roles if r["name"] == "Partner Viewer")
    base = {"email": _email(), "role_id": org_viewer}
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({**base}, 422, "partner_id"),
        ({**base, "org_id": tenant.org["id"], "partner_id": tenant.partner["id"]}, 422, "org_id"),
        ({**base, "org_id": tenant.org["id"], "email": "not-an-email"}, 422, "email"),
        ({**base, "org_id": tenant.org["id"], "colour": "red"}, 422, "colour"),
        ({**base, "org_id": tenant.org["id"], "role_id": partner_viewer}, 422, "role_id"),
        ({**base, "partner_id": tenant.partner["id"]}, 422, "role_id"),
        ({**base, "org_id": tenant.org["id"], "role_id": tenant.org["id"]}, 422, "role_id"),
        ({**base, "org_id": tenant.org["id"], "site_ids": [tenant.org["id"]]}, 422, "site_ids"),
        ({**base, "org_id": tenant.org["id"], "org_access": "all"}, 422, "org_access"),
        (
            {**base, "partner_id": tenant.partner["id"], "role_id": partner_viewer, "site_ids": []},
            422,
            "site_ids",
        ),
        (
            {
                **base,
                "partner_id": tenant.partner["id"],
                "role_id": partner_viewer,
                "org_access": "selected",
                "org_ids": [tenant.site["id"]],
            },
            422,
            "org_ids",
        ),
        (
            {
                **base,
                "partner_id": tenant.partner["id"],
                "role_id": partner_viewer,
                "org_access": "all",
                "org_ids": [tenant.org["id"]],
            },
            422,
            "org_ids",
        ),
    ]
    for body, status, field in cases:
        r = admin.post("/api/v1/users", json=body)
        assert r.status_code == status, (body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert field in [e["field"] for e in r.json()["errors"]], (body, r.text)
    missing = "00000000-0000-0000-0000-000000000000"
    r = admin.post("/api/v1/users", json={**base, "org_id": missing})
    assert r.status_code == 404
