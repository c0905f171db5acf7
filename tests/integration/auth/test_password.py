"""Password reset through real email, password change, and the password policy."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.factories import ok, unique
from tests.integration.auth.conftest import (
    API,
    NEW_PASSWORD,
    Account,
    audit_rows,
    bearer,
    mails_to,
    problem,
    raw_login,
    wait_for_mails,
)
from tests.support.mailbox import Mailbox
from tests.support.server import LiveServer

RESET = "Reset your Breeze password"


def _forgot(url: str, email: str, ip: str | None = None) -> httpx.Response:
    headers = {"X-Forwarded-For": ip} if ip else {}
    with httpx.Client(base_url=url, timeout=30, headers=headers) as anon:
        return anon.post(f"{API}/auth/forgot-password", json={"email": email})


def _reset(url: str, token: str, password: str) -> httpx.Response:
    with httpx.Client(base_url=url, timeout=30) as anon:
        return anon.post(f"{API}/auth/reset-password", json={"token": token, "password": password})


def _token(body: str) -> str:
    found = re.findall(r"token=([A-Za-z0-9_\-]+)", body)
    assert found, body
    return str(found[-1])


def test_forgot_and_reset(account: Account, accounts: LiveServer, mailbox: Mailbox) -> None:
    before = account.login()  # a session from before the reset
    r = _forgot(account.url, account.email.upper())
    assert r.status_code == 202 and r.json() == {"status": "accepted"}
    mail = mailbox.wait_for(account.email, subject="Reset")
    assert mail.subject == RESET
    assert f"{accounts.url}/reset-password?token=" in mail.body
    token = mailbox.token_for(account.email, subject="Reset")

    # The policy is checked before the token is spent, and names the field.
    problem(_reset(account.url, token, "short"), 422, "password")
    problem(_reset(account.url, token, "password1234"), 422, "password")
    problem(_reset(account.url, token, account.email), 422, "password")
    ok(_reset(account.url, token, NEW_PASSWORD), 204)

    problem(raw_login(account.url, account.email, account.password), 401)
    assert "access_token" in ok(raw_login(account.url, account.email, NEW_PASSWORD))
    problem(before.get(f"{API}/auth/me"), 401)  # every earlier session has ended
    before.close()
    # Single use.
    problem(_reset(account.url, token, "another-fine-passphrase-77"), 400, "token")
    assert ok(raw_login(account.url, account.email, NEW_PASSWORD))
    # The owner hears about it.
    changed = mailbox.wait_for(account.email, subject="was changed")
    assert "reset" in changed.body
    assert audit_rows(accounts, action="auth.password.reset", actor_email=account.email)


def test_a_newer_link_invalidates_the_older(account: Account, mailbox: Mailbox) -> None:
    ok(_forgot(account.url, account.email), 202)
    first = _token(wait_for_mails(mailbox, account.email, 1, "Reset")[-1].body)
    ok(_forgot(account.url, account.email), 202)
    second = _token(wait_for_mails(mailbox, account.email, 2, "Reset")[-1].body)
    assert first != second
    problem(_reset(account.url, first, NEW_PASSWORD), 400, "token")
    ok(_reset(account.url, second, NEW_PASSWORD), 204)


@pytest.mark.parametrize("token", ["nonsense", "brz_pr_" + "A" * 43, " "])
def test_unknown_tokens_are_400_naming_the_field(accounts: LiveServer, token: str) -> None:
    body = problem(_reset(accounts.url, token, NEW_PASSWORD), 400, "token")
    assert body["code"] == "invalid_token"


def test_unknown_email_is_accepted_and_mails_nothing(account: Account, mailbox: Mailbox) -> None:
    ghost = f"{unique('ghost')}@example.com"
    r = _forgot(account.url, ghost)
    assert r.status_code == 202 and r.json() == {"status": "accepted"}
    # The outbox is delivered in order: once a later mail has arrived, none is coming
    # for the unknown address.
    ok(_forgot(account.url, account.email), 202)
    mailbox.wait_for(account.email, subject="Reset")
    assert mails_to(mailbox, ghost) == []


def test_forgot_password_is_rate_limited_per_email(accounts: LiveServer) -> None:
    email = f"{unique('flood')}@example.com"
    for n in range(5):
        assert _forgot(accounts.url, email, ip=f"192.0.2.{n + 1}").status_code == 202
    r = _forgot(accounts.url, email, ip="192.0.2.99")
    problem(r, 429)
    assert int(r.headers["retry-after"]) > 0
    # Another address is not affected by that email's budget.
    assert _forgot(accounts.url, f"{unique('other')}@example.com").status_code == 202


def test_change_password(account: Account, accounts: LiveServer, mailbox: Mailbox) -> None:
    api = account.login()
    other = account.login()
    path = f"{API}/auth/change-password"
    r = api.post(path, json={"current_password": "not-it", "new_password": NEW_PASSWORD})
    problem(r, 422, "current_password")
    for weak in ("short", "password1234", "aaaaaaaaaaaaaaaa"):
        r = api.post(path, json={"current_password": account.password, "new_password": weak})
        problem(r, 422, "new_password")
    r = api.post(
        path, json={"current_password": account.password, "new_password": account.password}
    )
    problem(r, 422, "new_password")
    problem(api.post(path, json={"current_password": account.password}), 422, "new_password")

    ok(
        api.post(path, json={"current_password": account.password, "new_password": NEW_PASSWORD}),
        204,
    )
    ok(api.get(f"{API}/auth/me"))  # this session stays
    problem(other.get(f"{API}/auth/me"), 401)  # the others end
    problem(raw_login(account.url, account.email, account.password), 401)
    ok(raw_login(account.url, account.email, NEW_PASSWORD))
    mailbox.wait_for(account.email, subject="was changed")
    rows = audit_rows(accounts, action="auth.password.change", actor_email=account.email)
    assert [r.result for r in rows] == ["failure", "success"]
    assert rows[-1].details["sessions_revoked"] == 1
    api.close()
    other.close()


def test_change_password_needs_a_signed_in_user(anon: httpx.Client) -> None:
    r = anon.post(
        f"{API}/auth/change-password", json={"current_password": "a", "new_password": "b"}
    )
    problem(r, 401)
    with bearer(str(anon.base_url), "garbage") as api:
        problem(api.post(f"{API}/auth/mfa/setup"), 401)
