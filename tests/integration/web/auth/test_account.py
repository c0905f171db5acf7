"""Forgotten password and reset through a real mailed link; first-run set-up."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.factories import Tenant, login
from tests.integration.web.auth.support import (
    Member,
    audit_rows,
    browser,
    cookie_set,
    csrf_of,
    empty_server,
    form_post,
    make_user,
    sign_in,
)
from tests.support.mailbox import Mailbox
from tests.support.server import ADMIN_EMAIL, ADMIN_PASSWORD, LiveServer

NEW_PASSWORD = "granite-lantern-orbit-6142"


@pytest.fixture
def member(admin: httpx.Client, mailbox: Mailbox, tenant: Tenant) -> Member:
    return make_user(admin, mailbox, tenant)


def test_forgot_and_reset_through_the_mailed_link(
    server: LiveServer, member: Member, mailbox: Mailbox
) -> None:
    with browser(server.url) as c:
        page = c.get("/forgot-password")
        assert page.status_code == 200 and "Forgot your password?" in page.text
        r = form_post(c, "/forgot-password", "/forgot-password", {"email": member.email.upper()})
        assert r.status_code == 200
        assert "Check your email" in r.text
        token = mailbox.token_for(member.email, subject="Reset")

        link = c.get("/reset-password", params={"token": token})
        assert link.status_code == 200 and "Choose a new password" in link.text
        assert 'name="referrer" content="no-referrer"' in link.text
        assert link.headers["cache-control"] == "no-store"
        csrf = csrf_of(link.text)

        def reset(password: str, confirm: str) -> httpx.Response:
            data = {"csrf_token": csrf, "token": token, "password": password}
            return c.post("/reset-password", data={**data, "password_confirm": confirm})

        mismatch = reset(NEW_PASSWORD, NEW_PASSWORD + "x")
        assert mismatch.status_code == 422
        assert 'id="f-password_confirm-error">The two passwords do not match' in mismatch.text
        weak = reset("password1234", "password1234")
        assert weak.status_code == 422
        assert 'id="f-password-error">Password is too weak' in weak.text
        done = reset(NEW_PASSWORD, NEW_PASSWORD)
        assert done.status_code == 303 and done.headers["location"] == "/login"
        assert "Your password has been changed" in c.get("/login").text

        again = c.get("/reset-password", params={"token": token})  # the link works once
        assert again.status_code == 400 and "This link cannot be used" in again.text
        assert reset("another-quiet-river-8812", "another-quiet-river-8812").status_code == 400
    with browser(server.url) as c:
        assert sign_in(c, member.email, member.password).status_code == 401
        assert sign_in(c, member.email, NEW_PASSWORD).status_code == 303
    assert audit_rows(server, action="auth.password.reset", actor_email=member.email)


def test_forgot_password_answers_alike_for_unknown_addresses(
    server: LiveServer, mailbox: Mailbox
) -> None:
    with browser(server.url) as c:
        r = form_post(c, "/forgot-password", "/forgot-password", {"email": "ghost@example.com"})
        assert r.status_code == 200 and "Check your email" in r.text
        bad = form_post(c, "/forgot-password", "/forgot-password", {"email": "not an address"})
        assert bad.status_code == 422 and 'id="f-email-error"' in bad.text
        empty = form_post(c, "/forgot-password", "/forgot-password", {"email": ""})
        assert empty.status_code == 422 and "Enter the email address" in empty.text
        assert c.post("/forgot-password", data={"email": "a@example.com"}).status_code == 403
    with mailbox._lock:
        assert not [m for m in mailbox.messages if "ghost@example.com" in m.to]


def test_a_link_that_was_never_mailed_is_refused(server: LiveServer) -> None:
    with browser(server.url) as c:
        for params in ({"token": "brz_pr_made-up"}, {}):
            r = c.get("/reset-password", params=params)
            assert r.status_code == 400
            assert 'href="/forgot-password"' in r.text


def test_setup_is_closed_on_an_installation_in_use(server: LiveServer) -> None:
    with browser(server.url) as c:
        r = c.get("/setup")
        assert r.status_code == 303 and r.headers["location"] == "/login"
        page = c.get("/login")
        data = {
            "csrf_token": csrf_of(page.text),
            "name": "Intruder",
            "email": "intruder@example.com",
            "password": NEW_PASSWORD,
            "password_confirm": NEW_PASSWORD,
        }
        refused = c.post("/setup", data=data)
        assert refused.status_code == 409
        assert "Breeze is already set up" in refused.text
        assert cookie_set(refused, "breeze_session") is None
        assert sign_in(c, "intruder@example.com", NEW_PASSWORD).status_code == 401


def test_first_run_setup_creates_the_administrator(work_dir: Path, mailbox: Mailbox) -> None:
    with empty_server(work_dir, mailbox) as fresh, browser(fresh.url) as c:
        r = c.get("/login?next=/profile")
        assert r.status_code == 303 and r.headers["location"] == "/setup"
        page = c.get("/setup")
        assert page.status_code == 200 and "Set up Breeze" in page.text
        csrf = csrf_of(page.text)
        base = {"csrf_token": csrf, "name": " First Admin ", "email": "First@Example.com"}
        assert c.post("/setup", data={**base, "password": "x"}).status_code == 422
        weak = c.post(
            "/setup", data={**base, "password": "password1234", "password_confirm": "password1234"}
        )
        assert weak.status_code == 422 and 'id="f-password-error">Password is too weak' in weak.text
        assert 'value="First@Example.com"' in weak.text  # kept for the next try
        mismatch = c.post(
            "/setup", data={**base, "password": NEW_PASSWORD, "password_confirm": "other"}
        )
        assert mismatch.status_code == 422 and "The two passwords do not match" in mismatch.text
        assert c.post("/setup", data={**base, "password": NEW_PASSWORD}).status_code == 422
        no_csrf = {k: v for k, v in base.items() if k != "csrf_token"}
        assert c.post("/setup", data=no_csrf).status_code == 403

        done = c.post(
            "/setup", data={**base, "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD}
        )
        assert done.status_code == 303 and done.headers["location"] == "/"
        assert cookie_set(done, "breeze_session")
        profile = c.get("/profile")
        assert profile.status_code == 200
        assert "first@example.com" in profile.text and "Platform administrator" in profile.text
        rows = audit_rows(fresh, action="user.create_platform_admin")
        assert len(rows) == 1 and rows[0].details == {"via": "setup"}
        assert rows[0].actor_email == "first@example.com"

        # Closed from now on, and the administrator signs in normally.
        assert c.get("/setup").status_code == 303
        assert c.post("/setup", data={**base, "password": NEW_PASSWORD}).status_code == 409
        api = login(fresh.url, "first@example.com", NEW_PASSWORD)
        assert api.get("/api/v1/auth/me").json()["is_platform_admin"] is True
        api.close()
    assert ADMIN_EMAIL and ADMIN_PASSWORD  # the shared server's admin is untouched
