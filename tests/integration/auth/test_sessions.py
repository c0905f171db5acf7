"""Listing and revoking sessions: one's own, and another user's as an administrator."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.factories import make_member, make_tenant, ok
from tests.integration.apikeys.keys import key_client, make_key
from tests.integration.auth.conftest import (
    API,
    Account,
    audit_rows,
    create_user,
    problem,
    raw_login,
)
from tests.support.mailbox import Mailbox
from tests.support.server import LiveServer

FIELDS = {
    "id",
    "kind",
    "ip_address",
    "user_agent",
    "created_at",
    "last_used_at",
    "expires_at",
    "current",
}


def _me_id(api: httpx.Client) -> str:
    return str(ok(api.get(f"{API}/auth/me"))["id"])


def test_list_and_revoke_own_sessions(account: Account, accounts: LiveServer) -> None:
    first = account.login()
    second = account.login()
    cookie = raw_login(account.url, account.email, account.password, use_cookie=True)
    ok(cookie)

    listed = ok(first.get(f"{API}/auth/sessions", headers={"User-Agent": "pytest-first"}))
    assert len(listed) == 3 and all(set(s) == FIELDS for s in listed)
    assert sorted(s["kind"] for s in listed) == ["api", "api", "web"]
    assert [s["ip_address"] for s in listed] == ["127.0.0.1"] * 3
    current = [s for s in listed if s["current"]]
    assert len(current) == 1 and current[0]["kind"] == "api"
    # Each client sees its own session as the current one.
    seen_by_second = ok(second.get(f"{API}/auth/sessions"))
    second_id = next(s["id"] for s in seen_by_second if s["current"])
    assert second_id != current[0]["id"]

    ok(first.delete(f"{API}/auth/sessions/{second_id}"), 204)
    problem(second.get(f"{API}/auth/me"), 401)
    assert {s["id"] for s in ok(first.get(f"{API}/auth/sessions"))} == (
        {s["id"] for s in listed} - {second_id}
    )
    problem(first.delete(f"{API}/auth/sessions/{second_id}"), 404)  # already gone
    problem(first.delete(f"{API}/auth/sessions/{uuid.uuid4()}"), 404)
    problem(first.delete(f"{API}/auth/sessions/not-a-uuid"), 422, "path.session_id")

    # Revoking the current session signs out.
    ok(first.delete(f"{API}/auth/sessions/{current[0]['id']}"), 204)
    problem(first.get(f"{API}/auth/me"), 401)
    rows = audit_rows(accounts, action="auth.session.revoke", actor_email=account.email)
    assert len(rows) == 2 and {r.details["by"] for r in rows} == {"self"}
    first.close()
    second.close()


def test_someone_elses_session_is_not_found(accounts: LiveServer) -> None:
    alice, bob = create_user(accounts), create_user(accounts)
    with alice.login() as a, bob.login() as b:
        bobs = next(s["id"] for s in ok(b.get(f"{API}/auth/sessions")) if s["current"])
        problem(a.delete(f"{API}/auth/sessions/{bobs}"), 404)
        ok(b.get(f"{API}/auth/me"))
        assert bobs not in {s["id"] for s in ok(a.get(f"{API}/auth/sessions"))}


def test_platform_admin_lists_and_revokes_a_users_sessions(
    account: Account, accounts: LiveServer, accounts_admin: httpx.Client
) -> None:
    api = account.login()
    user_id = _me_id(api)
    sessions = ok(accounts_admin.get(f"{API}/users/{user_id}/sessions"))
    assert len(sessions) == 1 and sessions[0]["current"] is False
    sid = sessions[0]["id"]

    # The session must belong to that user.
    admin_id = _me_id(accounts_admin)
    problem(accounts_admin.delete(f"{API}/users/{admin_id}/sessions/{sid}"), 404)
    problem(accounts_admin.get(f"{API}/users/{uuid.uuid4()}/sessions"), 404)

    ok(accounts_admin.delete(f"{API}/users/{user_id}/sessions/{sid}"), 204)
    problem(api.get(f"{API}/auth/me"), 401)
    assert ok(accounts_admin.get(f"{API}/users/{user_id}/sessions")) == []
    row = audit_rows(accounts, action="auth.session.revoke", resource_id=sid)[0]
    assert row.details["by"] == "admin" and row.resource_name == account.email
    api.close()


def test_visibility_follows_users_permissions(admin: httpx.Client, mailbox: Mailbox) -> None:
    mine, theirs = make_tenant(admin), make_tenant(admin)
    boss = make_member(admin, mailbox, role="Partner Admin", partner_id=mine.partner["id"])
    tech = make_member(admin, mailbox, role="Org Technician", org_id=mine.org["id"])
    stranger = make_member(admin, mailbox, role="Partner Admin", partner_id=theirs.partner["id"])
    tech_id = _me_id(tech)
    tech_sid = next(s["id"] for s in ok(tech.get(f"{API}/auth/sessions")) if s["current"])
    path = f"{API}/users/{tech_id}/sessions/{tech_sid}"

    # Another tenant's administrator cannot see the user at all.
    problem(stranger.get(f"{API}/users/{tech_id}/sessions"), 404)
    problem(stranger.delete(path), 404)
    # users:read is not users:write.
    assert tech_sid in {s["id"] for s in ok(tech.get(f"{API}/users/{tech_id}/sessions"))}
    problem(tech.delete(path), 404)
    ok(tech.get(f"{API}/auth/me"))
    # The tenant's administrator can.
    assert tech_sid in {s["id"] for s in ok(boss.get(f"{API}/users/{tech_id}/sessions"))}
    ok(boss.delete(path), 204)
    problem(tech.get(f"{API}/auth/me"), 401)
    for c in (boss, tech, stranger):
        c.close()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/auth/mfa/setup"),
        ("get", "/auth/sessions"),
        ("post", "/auth/change-password"),
    ],
)
def test_api_keys_cannot_manage_a_users_own_credentials(
    admin: httpx.Client, method: str, path: str
) -> None:
    tenant = make_tenant(admin)
    key = make_key(admin, ["users:read", "users:write"], partner_id=tenant.partner["id"])
    body = {"current_password": "x", "new_password": "y"} if "password" in path else None
    with key_client(admin, key["key"]) as api:
        r = api.request(method.upper(), f"{API}{path}", json=body)
        problem(r, 403)
