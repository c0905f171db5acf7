"""/profile over HTTP: name, password, two-factor authentication and sessions, each
through the same actions as /api/v1/auth/*."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.factories import Tenant, login
from tests.integration.auth.conftest import Authenticator
from tests.integration.web.auth.support import (
    Member,
    audit_rows,
    browser,
    csrf_of,
    make_user,
    sign_in,
    signed_in,
)
from tests.support.mailbox import Mailbox
from tests.support.server import LiveServer

NEW_PASSWORD = "harbor-thistle-quartz-5307"
_SECRET = re.compile(r'id="mfa-secret" class="[^"]*" value="([A-Z2-7]+)"')
_CODES = re.compile(r'<li class="col">([a-z0-9-]+)</li>')


@pytest.fixture
def member(admin: httpx.Client, mailbox: Mailbox, tenant: Tenant) -> Member:
    return make_user(admin, mailbox, tenant)


def _post(c: httpx.Client, action: str, data: dict[str, str]) -> httpx.Response:
    page = c.get("/profile")
    assert page.status_code == 200, page.text[:500]
    return c.post(action, data={"csrf_token": csrf_of(page.text), **data})


def test_profile_shows_the_account_and_this_session(server: LiveServer, member: Member) -> None:
    with signed_in(server.url, member.email, member.password) as c:
        r = c.get("/profile")
        assert r.status_code == 200
        assert "<h1" in r.text and "Profile and security" in r.text
        assert member.email in r.text
        assert r.headers["cache-control"] == "no-store"
        assert 'data-mfa-state="off"' in r.text
        assert r.text.count('data-current="true"') == 1
        assert "This session" in r.text and "Console" in r.text
        # Every form carries the session's CSRF token.
        forms = r.text.count("<form")
        assert r.text.count('name="csrf_token"') == forms
        assert forms >= 5


def test_change_name(server: LiveServer, member: Member) -> None:
    with signed_in(server.url, member.email, member.password) as c:
        empty = _post(c, "/profile", {"name": "   "})
        assert empty.status_code == 422
        assert 'id="name-name-error">Enter your name' in empty.text
        long = _post(c, "/profile", {"name": "x" * 201})
        assert long.status_code == 422 and 'id="name-name-error"' in long.text
        assert c.post("/profile", data={"name": "No Token"}).status_code == 403
        r = _post(c, "/profile", {"name": "  Robin Quill  "})
        assert r.status_code == 303 and r.headers["location"] == "/profile"
        page = c.get("/profile")
        assert 'value="Robin Quill"' in page.text and "Your name has been saved." in page.text
    rows = audit_rows(server, action="user.update", actor_email=member.email)
    assert rows[-1].details["changes"]["name"][1] == "Robin Quill"


def test_change_password(server: LiveServer, member: Member) -> None:
    other = login(server.url, member.email, member.password)  # another session
    with signed_in(server.url, member.email, member.password) as c:
        data = {"new_password": NEW_PASSWORD, "new_password_confirm": NEW_PASSWORD}
        wrong = _post(c, "/profile/password", {"current_password": "not-it", **data})
        assert wrong.status_code == 422
        assert 'id="password-current_password-error">The current password is not correct' in (
            wrong.text
        )
        mismatch = _post(
            c,
            "/profile/password",
            {**data, "current_password": member.password, "new_password_confirm": "other"},
        )
        assert mismatch.status_code == 422
        assert 'id="password-new_password_confirm-error">The two passwords' in mismatch.text
        weak = _post(
            c,
            "/profile/password",
            {
                "current_password": member.password,
                "new_password": "password1234",
                "new_password_confirm": "password1234",
            },
        )
        assert weak.status_code == 422
        assert 'id="password-new_password-error">Password is too weak' in weak.text
        done = _post(c, "/profile/password", {"current_password": member.password, **data})
        assert done.status_code == 303
        assert "other sessions have been signed out" in c.get("/profile").text
    assert other.get("/api/v1/auth/me").status_code == 401
    other.close()
    with browser(server.url) as c:
        assert sign_in(c, member.email, NEW_PASSWORD).status_code == 303


def test_two_factor_setup_codes_and_disable(server: LiveServer, member: Member) -> None:
    with signed_in(server.url, member.email, member.password) as c:
        r = _post(c, "/profile/mfa/setup", {})
        assert r.status_code == 303 and r.headers["location"] == "/profile#mfa"
        page = c.get("/profile")
        assert 'data-mfa-state="pending"' in page.text
        assert (
            "<svg" in page.text and 'aria-label="QR code for your authenticator app"' in page.text
        )
        found = _SECRET.search(page.text)
        assert found, "the secret is shown for typing in by hand"
        app = Authenticator(found.group(1))

        wrong = _post(c, "/profile/mfa/enable", {"code": app.wrong_code()})
        assert wrong.status_code == 422
        assert 'id="mfa_enable-code-error">The code does not match' in wrong.text
        assert "<svg" in wrong.text  # the QR code stays for the next try
        enabled = _post(c, "/profile/mfa/enable", {"code": app.code()})
        assert enabled.status_code == 200
        assert enabled.headers["cache-control"] == "no-store"
        codes = _CODES.findall(enabled.text)
        assert len(codes) == 10 and "shown only this once" in enabled.text
        page = c.get("/profile")
        assert 'data-mfa-state="on"' in page.text and 'data-codes-left="10"' in page.text
        assert not _CODES.search(page.text) and codes[0] not in page.text

        bad = _post(c, "/profile/mfa/recovery-codes", {"code": app.wrong_code()})
        assert bad.status_code == 422 and 'id="mfa_codes-code-error">The code is not valid' in (
            bad.text
        )
        fresh = _post(c, "/profile/mfa/recovery-codes", {"code": codes[0]})
        assert fresh.status_code == 200
        new_codes = _CODES.findall(fresh.text)
        assert len(new_codes) == 10 and not set(new_codes) & set(codes)

        no_password = _post(c, "/profile/mfa/disable", {"password": "", "code": app.code()})
        assert no_password.status_code == 422
        assert 'id="mfa_disable-password-error">Enter your password' in no_password.text
        wrong_password = _post(
            c, "/profile/mfa/disable", {"password": "wrong-one", "code": app.code()}
        )
        assert wrong_password.status_code == 422
        assert "The password is not correct" in wrong_password.text
        off = _post(c, "/profile/mfa/disable", {"password": member.password, "code": new_codes[0]})
        assert off.status_code == 303
        assert 'data-mfa-state="off"' in c.get("/profile").text
    actions = [r.action for r in audit_rows(server, actor_email=member.email)]
    for action in ("auth.mfa.setup", "auth.mfa.enable", "auth.mfa.recovery_codes"):
        assert action in actions
    assert "auth.mfa.disable" in actions


def test_sessions_list_and_revoke(server: LiveServer, member: Member) -> None:
    api = login(server.url, member.email, member.password)
    also = login(server.url, member.email, member.password)
    with signed_in(server.url, member.email, member.password) as c:
        page = c.get("/profile")
        ids = re.findall(r'data-session="([0-9a-f-]+)"', page.text)
        current = re.search(r'data-session="([0-9a-f-]+)" data-current="true"', page.text)
        assert len(ids) == 4 and current  # with the one the invitation's acceptance opened
        other = next(i for i in ids if i != current.group(1))
        assert "API" in page.text and "Sign out other sessions" in page.text

        r = _post(c, f"/profile/sessions/{other}/revoke", {})
        assert r.status_code == 303 and r.headers["location"] == "/profile#sessions"
        page = c.get("/profile")
        assert other not in page.text and "The session has been signed out." in page.text
        missing = _post(c, f"/profile/sessions/{other}/revoke", {})
        assert missing.status_code == 404

        r = _post(c, "/profile/sessions/revoke-others", {})
        assert r.status_code == 303
        assert "Signed out 2 other sessions." in c.get("/profile").text
        assert api.get("/api/v1/auth/me").status_code == 401
        assert also.get("/api/v1/auth/me").status_code == 401

        mine = _post(c, f"/profile/sessions/{current.group(1)}/revoke", {})
        assert mine.status_code == 303 and mine.headers["location"] == "/login"
        assert c.get("/profile").status_code == 303
    api.close()
    also.close()
    assert audit_rows(server, action="auth.session.revoke_others", actor_email=member.email)
