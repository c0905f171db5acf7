"""Sign-in, access tokens, refresh rotation with reuse detection, sign-out, cookies."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.factories import ok
from tests.integration.auth.conftest import (
    API,
    Account,
    audit_rows,
    bearer,
    create_user,
    problem,
    raw_login,
)
from tests.support.server import LiveServer


@pytest.fixture(scope="module")
def account(accounts: LiveServer) -> Account:
    """One user for this module: nothing here changes the account itself."""
    return create_user(accounts)


def test_login_answers_a_token_pair_that_opens_me(account: Account) -> None:
    r = raw_login(account.url, account.email.upper(), account.password)  # case-insensitive
    body = ok(r)
    assert body["token_type"] == "bearer" and body["expires_in"] > 0
    assert body["refresh_token"].startswith("brz_rt_")
    with bearer(account.url, body["access_token"]) as api:
        me = ok(api.get(f"{API}/auth/me"))
    assert me["email"] == account.email
    assert me["auth_method"] == "token" and me["mfa_enabled"] is False
    assert me["last_login_at"] is not None


def test_wrong_password_is_401_problem_and_audited(account: Account, accounts: LiveServer) -> None:
    where = {"action": "auth.login", "actor_email": account.email, "result": "failure"}
    before = len(audit_rows(accounts, **where))
    r = raw_login(account.url, account.email, "not-the-password")
    body = problem(r, 401)
    assert body["detail"] == "Email or password is incorrect"
    assert "access_token" not in r.text
    rows = audit_rows(accounts, **where)
    assert len(rows) == before + 1
    assert rows[-1].error_message == "bad credentials"
    assert rows[-1].ip_address == "127.0.0.1"
    account.login().close()  # a success clears the account's failure count
    # An unknown account gets the very same answer (no account enumeration).
    unknown = problem(raw_login(account.url, "nobody-here@example.com", "whatever-pass"), 401)
    assert unknown["detail"] == body["detail"]


def test_successful_login_is_audited(account: Account, accounts: LiveServer) -> None:
    where = {"action": "auth.login", "actor_email": account.email, "result": "success"}
    before = len(audit_rows(accounts, **where))
    account.login().close()
    rows = audit_rows(accounts, **where)
    assert len(rows) == before + 1
    assert rows[-1].details["method"] == "password"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "email"),
        ({"email": "root@example.com"}, "password"),
        ({"email": "not-an-email", "password": "x"}, "email"),
        ({"email": "a@example.com", "password": ""}, "password"),
        ({"email": "a@example.com", "password": "x", "remember": True}, "remember"),
        ({"email": "a@example.com", "password": "x", "use_cookie": "sometimes"}, "use_cookie"),
        ({"email": ["a@example.com"], "password": "x"}, "email"),
    ],
)
def test_malformed_login_bodies_name_the_field(
    anon: httpx.Client, payload: dict[str, object], field: str
) -> None:
    problem(anon.post(f"{API}/auth/login", json=payload), 422, field)


@pytest.mark.parametrize(
    ("path", "payload", "field"),
    [
        ("/auth/mfa/verify", {"code": "123456"}, "mfa_token"),
        ("/auth/mfa/verify", {"mfa_token": "x", "code": "12"}, "code"),
        ("/auth/refresh", {}, "refresh_token"),
        ("/auth/refresh", {"refresh_token": "x" * 500}, "refresh_token"),
        ("/auth/forgot-password", {"email": "nope"}, "email"),
        ("/auth/reset-password", {"token": "abc"}, "password"),
        ("/auth/reset-password", {"password": "abc"}, "token"),
    ],
)
def test_malformed_bodies_of_other_auth_routes(
    anon: httpx.Client, path: str, payload: dict[str, object], field: str
) -> None:
    problem(anon.post(f"{API}{path}", json=payload), 422, field)


def test_non_json_login_body_is_422(anon: httpx.Client) -> None:
    for raw in (b"{", b"[]", b"null", b"\xff\xfe"):
        r = anon.post(
            f"{API}/auth/login", content=raw, headers={"content-type": "application/json"}
        )
        problem(r, 422)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer garbage"},
        {"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl"},
        {"Authorization": "Bearer brz_not_a_real_key"},
        {"Authorization": "Basic cm9vdDpyb290"},
        {"X-API-Key": "brz_nope"},
        {"Cookie": "breeze_session=brz_ws_nope"},
    ],
)
def test_missing_or_garbage_credentials_are_401(
    anon: httpx.Client, headers: dict[str, str]
) -> None:
    r = anon.get(f"{API}/auth/me", headers=headers)
    problem(r, 401)
    assert r.headers.get("www-authenticate", "").startswith("Bearer")


def test_an_mfa_or_refresh_token_is_not_an_access_token(account: Account) -> None:
    body = ok(raw_login(account.url, account.email, account.password))
    with bearer(account.url, body["refresh_token"]) as api:
        problem(api.get(f"{API}/auth/me"), 401)


def test_refresh_rotates_and_reuse_kills_the_whole_family(
    account: Account, accounts: LiveServer
) -> None:
    first = ok(raw_login(account.url, account.email, account.password))
    with httpx.Client(base_url=account.url, timeout=30) as anon:
        second = ok(
            anon.post(f"{API}/auth/refresh", json={"refresh_token": first["refresh_token"]})
        )
        assert second["refresh_token"] != first["refresh_token"]
        assert second["access_token"] != first["access_token"]
        with bearer(account.url, second["access_token"]) as api:
            assert ok(api.get(f"{API}/auth/me"))["email"] == account.email
        third = ok(
            anon.post(f"{API}/auth/refresh", json={"refresh_token": second["refresh_token"]})
        )

        # The first token comes back: a thief or a replay. 401, and the session is gone.
        r = anon.post(f"{API}/auth/refresh", json={"refresh_token": first["refresh_token"]})
        assert "already used" in problem(r, 401)["detail"]
        # The newest token of that family is dead too...
        problem(
            anon.post(f"{API}/auth/refresh", json={"refresh_token": third["refresh_token"]}), 401
        )
    # ...and so is every access token of that session.
    for token in (first["access_token"], second["access_token"], third["access_token"]):
        with bearer(account.url, token) as api:
            problem(api.get(f"{API}/auth/me"), 401)
    rows = audit_rows(accounts, action="auth.refresh_reuse", actor_email=account.email)
    assert len(rows) == 1 and rows[0].result == "denied"
    # Other sessions of the user are not affected.
    with account.login() as api:
        ok(api.get(f"{API}/auth/me"))


def test_garbage_refresh_token_is_401(anon: httpx.Client) -> None:
    problem(anon.post(f"{API}/auth/refresh", json={"refresh_token": "brz_rt_nope"}), 401)


def test_logout_ends_the_access_and_refresh_tokens(account: Account) -> None:
    body = ok(raw_login(account.url, account.email, account.password))
    with bearer(account.url, body["access_token"]) as api:
        ok(api.get(f"{API}/auth/me"))
        ok(api.post(f"{API}/auth/logout"), 204)
        problem(api.get(f"{API}/auth/me"), 401)
    with httpx.Client(base_url=account.url, timeout=30) as anon:
        r = anon.post(f"{API}/auth/refresh", json={"refresh_token": body["refresh_token"]})
        problem(r, 401)


def test_logout_can_also_end_a_refresh_tokens_session(account: Account) -> None:
    one = ok(raw_login(account.url, account.email, account.password))
    two = ok(raw_login(account.url, account.email, account.password))
    with bearer(account.url, one["access_token"]) as api:
        ok(api.post(f"{API}/auth/logout", json={"refresh_token": two["refresh_token"]}), 204)
    with bearer(account.url, two["access_token"]) as api:
        problem(api.get(f"{API}/auth/me"), 401)


def test_cookie_sign_in_with_csrf(account: Account) -> None:
    r = raw_login(account.url, account.email, account.password, use_cookie=True)
    body = ok(r)
    assert set(body) == {"csrf_token", "expires_in"}
    assert "access_token" not in body
    set_cookies = r.headers.get_list("set-cookie")
    session_cookie = next(c for c in set_cookies if c.startswith("breeze_session="))
    csrf_cookie = next(c for c in set_cookies if c.startswith("breeze_csrf="))
    assert "httponly" in session_cookie.lower() and "samesite=lax" in session_cookie.lower()
    assert "httponly" not in csrf_cookie.lower()
    raw = r.cookies["breeze_session"]
    assert r.cookies["breeze_csrf"] == body["csrf_token"]

    with httpx.Client(base_url=account.url, timeout=30, cookies={"breeze_session": raw}) as browser:
        me = ok(browser.get(f"{API}/auth/me"))  # a safe request: the cookie alone is enough
        assert me["email"] == account.email and me["auth_method"] == "cookie"
        nowhere = f"{API}/auth/sessions/00000000-0000-0000-0000-000000000000"
        r = browser.delete(nowhere)  # unsafe without the CSRF header
        assert "CSRF" in problem(r, 403)["detail"]
        problem(browser.delete(nowhere, headers={"X-CSRF-Token": "wrong"}), 403)
        problem(browser.post(f"{API}/auth/logout"), 403)
        ok(browser.get(f"{API}/auth/me"))  # still signed in
        # With the token the request goes through (and finds no such session).
        problem(browser.delete(nowhere, headers={"X-CSRF-Token": body["csrf_token"]}), 404)
        ok(browser.post(f"{API}/auth/logout", headers={"X-CSRF-Token": body["csrf_token"]}), 204)
        problem(browser.get(f"{API}/auth/me"), 401)


def test_one_refresh_token_used_twice_at_once_never_yields_two_sessions(
    account: Account,
) -> None:
    """Two requests racing with the same refresh token: at most one rotates it; the
    other is treated as reuse, which ends the family (so both new tokens die)."""
    tokens = ok(raw_login(account.url, account.email, account.password))
    barrier = threading.Barrier(4)

    def refresh(_: int) -> httpx.Response:
        with httpx.Client(base_url=account.url, timeout=30) as c:
            barrier.wait()
            return c.post(f"{API}/auth/refresh", json={"refresh_token": tokens["refresh_token"]})

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(refresh, range(4)))
    assert sorted(r.status_code for r in answers).count(200) <= 1
    assert any(r.status_code == 401 for r in answers)
    for r in answers:
        if r.status_code == 200:
            with httpx.Client(base_url=account.url, timeout=30) as c:
                again = c.post(
                    f"{API}/auth/refresh", json={"refresh_token": r.json()["refresh_token"]}
                )
                problem(again, 401)
