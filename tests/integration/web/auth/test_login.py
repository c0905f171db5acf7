"""Signing in and out of the console over HTTP: /login, /login/mfa, /logout, the way
back after a timed-out session, CSRF and open-redirect protection, throttling."""

from __future__ import annotations

import httpx
import pytest

from tests.factories import Tenant, login, ok
from tests.integration.auth.conftest import Authenticator, enable_mfa
from tests.integration.web.auth.support import (
    Member,
    browser,
    cookie_cleared,
    cookie_set,
    csrf_of,
    form_post,
    idle_sessions,
    make_user,
    sign_in,
    signed_in,
)
from tests.support.mailbox import Mailbox
from tests.support.server import LiveServer


@pytest.fixture
def member(admin: httpx.Client, mailbox: Mailbox, tenant: Tenant) -> Member:
    return make_user(admin, mailbox, tenant)


def _mfa_member(member: Member, url: str) -> tuple[Authenticator, list[str]]:
    api = login(url, member.email, member.password)
    try:
        return enable_mfa(api)
    finally:
        api.close()


def test_sign_in_page_is_a_form_with_csrf(server: LiveServer) -> None:
    with browser(server.url) as c:
        r = c.get("/login")
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/html")
        assert "Sign in to Breeze" in r.text
        assert 'autocomplete="current-password"' in r.text
        assert csrf_of(r.text) == c.cookies.get("breeze_form")
        assert 'href="/forgot-password"' in r.text


def test_sign_in_sets_the_httponly_session_and_goes_next(
    server: LiveServer, member: Member
) -> None:
    with browser(server.url) as c:
        r = sign_in(c, member.email, member.password, next="/profile")
        assert r.status_code == 303, r.text
        assert r.headers["location"] == "/profile"
        session = cookie_set(r, "breeze_session")
        assert session and "httponly" in session.lower() and "samesite=lax" in session.lower()
        csrf = cookie_set(r, "breeze_csrf")
        assert csrf and "httponly" not in csrf.lower()
        page = c.get("/profile")
        assert page.status_code == 200
        assert member.email in page.text
        # Signed in already: the sign-in page sends the browser on.
        again = c.get("/login?next=/profile")
        assert again.status_code == 303 and again.headers["location"] == "/profile"


def test_wrong_password_is_refused_with_a_message_and_no_cookie(
    server: LiveServer, member: Member
) -> None:
    with browser(server.url) as c:
        r = sign_in(c, member.email, "not-the-password")
        assert r.status_code == 401
        assert "Email or password is incorrect" in r.text
        assert cookie_set(r, "breeze_session") is None
        assert "WWW-Authenticate" not in r.headers
        assert f'value="{member.email}"' in r.text  # the address is kept for the retry
        r = sign_in(c, "nobody-here@example.com", "whatever-password")
        assert r.status_code == 401 and "Email or password is incorrect" in r.text
        empty = sign_in(c, "", "")
        assert empty.status_code == 422
        assert "Enter your email address" in empty.text and "Enter your password" in empty.text
        bad = sign_in(c, "not-an-address", "x")
        assert bad.status_code == 422 and 'id="f-email-error"' in bad.text


def test_a_form_without_the_right_csrf_token_is_refused(server: LiveServer, member: Member) -> None:
    with browser(server.url) as c:
        c.get("/login")
        data = {"email": member.email, "password": member.password}
        assert c.post("/login", data=data).status_code == 403
        r = c.post("/login", data={**data, "csrf_token": "forged"})
        assert r.status_code == 403
        assert "did not come from Breeze" in r.text
        assert cookie_set(r, "breeze_session") is None
    with browser(server.url) as fresh:  # a token but no cookie (another site's form)
        r = fresh.post("/login", data={**data, "csrf_token": "x" * 32})
        assert r.status_code == 403


@pytest.mark.parametrize(
    "target",
    ["//evil.example/steal", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"],
)
def test_next_never_leaves_the_console(server: LiveServer, target: str) -> None:
    with browser(server.url) as c:
        page = c.get("/login", params={"next": target})
        assert page.status_code == 200
        assert "evil" not in page.text and "javascript" not in page.text
        r = c.post(
            "/login",
            data={
                "csrf_token": csrf_of(page.text),
                "email": "root@example.com",
                "password": "quiet-harbour-lantern-7319",
                "next": target,
            },
        )
        assert r.status_code == 303
        assert r.headers["location"] == "/"


def test_too_many_failures_are_throttled_with_a_clear_message(
    server: LiveServer, member: Member
) -> None:
    with browser(server.url) as c:
        c.headers["X-Forwarded-For"] = "198.51.100.23"
        for _ in range(5):
            assert sign_in(c, member.email, "wrong-password-again").status_code == 401
        r = sign_in(c, member.email, member.password)
        assert r.status_code == 429
        assert "Too many failed sign-in attempts; try again in" in r.text
        assert int(r.headers["Retry-After"]) > 0
        assert cookie_set(r, "breeze_session") is None


def test_timed_out_session_returns_to_the_page_after_signing_in(
    server: LiveServer, member: Member
) -> None:
    with signed_in(server.url, member.email, member.password) as c:
        idle_sessions(server, member.email, 9 * 3600)
        r = c.get("/profile?tab=x")
        assert r.status_code == 303
        assert r.headers["location"] == "/login?next=%2Fprofile%3Ftab%3Dx"
        page = c.get(r.headers["location"])
        assert page.status_code == 200
        assert "The session timed out; sign in again" in page.text
        assert 'name="next" value="/profile?tab=x"' in page.text
        back = c.post(
            "/login",
            data={
                "csrf_token": csrf_of(page.text),
                "email": member.email,
                "password": member.password,
                "next": "/profile?tab=x",
            },
        )
        assert back.status_code == 303 and back.headers["location"] == "/profile?tab=x"
        assert c.get("/profile").status_code == 200
        # The flash was shown once.
        assert "timed out" not in c.get("/login").text


def test_sign_in_with_a_second_factor(server: LiveServer, member: Member) -> None:
    app, recovery = _mfa_member(member, server.url)
    with browser(server.url) as c:
        r = sign_in(c, member.email, member.password, next="/profile")
        assert r.status_code == 303
        assert r.headers["location"] == "/login/mfa?next=%2Fprofile"
        assert cookie_set(r, "breeze_session") is None
        challenge = cookie_set(r, "breeze_mfa")
        assert challenge and "httponly" in challenge.lower() and "path=/login" in challenge.lower()

        page = c.get(r.headers["location"])
        assert page.status_code == 200 and "Two-factor authentication" in page.text
        assert 'autocomplete="one-time-code"' in page.text
        token = csrf_of(page.text)
        wrong = c.post(
            "/login/mfa", data={"csrf_token": token, "code": app.wrong_code(), "next": "/profile"}
        )
        assert wrong.status_code == 401
        assert "The code is not valid" in wrong.text and 'aria-invalid="true"' in wrong.text
        short = c.post("/login/mfa", data={"csrf_token": token, "code": "12", "next": "/profile"})
        assert short.status_code == 422 and "6-digit code" in short.text
        good = c.post(
            "/login/mfa", data={"csrf_token": token, "code": app.code(), "next": "/profile"}
        )
        assert good.status_code == 303 and good.headers["location"] == "/profile"
        assert cookie_set(good, "breeze_session")
        assert cookie_cleared(good, "breeze_mfa")
        assert c.get("/profile").status_code == 200

    # A recovery code works once.
    for attempt in range(2):
        with browser(server.url) as c:
            r = sign_in(c, member.email, member.password)
            r = form_post(c, "/login/mfa", "/login/mfa", {"code": recovery[0].upper()})
            if attempt == 0:
                assert r.status_code == 303 and r.headers["location"] == "/"
            else:
                assert r.status_code == 401 and "The code is not valid" in r.text


def test_second_step_without_a_challenge_goes_back_to_sign_in(server: LiveServer) -> None:
    with browser(server.url) as c:
        r = c.get("/login/mfa?next=/profile")
        assert r.status_code == 303
        assert r.headers["location"] == "/login?next=%2Fprofile"
        page = c.get(r.headers["location"])
        assert "The sign-in step expired" in page.text
        c.cookies.set("breeze_mfa", "forged.token.value", path="/login")
        r = form_post(c, "/login", "/login/mfa", {"code": "123456"})
        assert r.status_code == 303 and r.headers["location"] == "/login"


def test_sign_out_ends_the_session(server: LiveServer, member: Member) -> None:
    with signed_in(server.url, member.email, member.password) as c:
        old = c.cookies.get("breeze_session")
        page = c.get("/profile")
        assert c.post("/logout").status_code == 403  # no CSRF token
        assert c.post("/logout", data={"csrf_token": "wrong"}).status_code == 403
        r = c.post("/logout", data={"csrf_token": csrf_of(page.text)})
        assert r.status_code == 303 and r.headers["location"] == "/login"
        assert cookie_cleared(r, "breeze_session") and cookie_cleared(r, "breeze_csrf")
        assert "You have signed out." in c.get("/login").text
    with browser(server.url) as stale:  # the old cookie no longer works
        stale.cookies.set("breeze_session", old or "")
        r = stale.get("/profile")
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
    ok(login(server.url, member.email, member.password).get("/api/v1/auth/me"))
