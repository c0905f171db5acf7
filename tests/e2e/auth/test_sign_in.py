"""Signing in with two-factor authentication, recovery codes, sign-out, password reset
through the mailed link and first-run set-up, in Chromium against a real server."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.factories import Tenant
from tests.integration.auth.conftest import Authenticator
from tests.integration.web.auth.support import Member, empty_server, make_user
from tests.support.browser import PHONE, assert_accessible, new_console_page, shot
from tests.support.mailbox import Mailbox
from tests.support.server import LiveServer

NEW_PASSWORD = "meadow-falcon-cobalt-4471"


@pytest.fixture
def member(console_admin: httpx.Client, mailbox: Mailbox, console_tenant: Tenant) -> Member:
    return make_user(console_admin, mailbox, console_tenant)


@pytest.fixture
def page(open_context: Callable[..., BrowserContext], page_errors: list[str]) -> Page:
    return new_console_page(open_context(), page_errors)


def _password_step(page: Page, base: str, email: str, password: str, next: str = "") -> None:
    page.goto(f"{base}/login" + (f"?next={next}" if next else ""))
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def _sign_out(page: Page, name: str) -> None:
    page.get_by_role("button", name=f"Account menu for {name}").click()
    page.get_by_role("button", name="Sign out", exact=True).click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_text("You have signed out.")).to_be_visible()


def test_sign_in_with_two_factor_authentication(
    console: LiveServer, member: Member, page: Page
) -> None:
    base = console.url
    name = member.email.split("@")[0]
    page.goto(f"{base}/login?next=/profile")
    expect(page.get_by_role("heading", name="Sign in to Breeze")).to_be_visible()
    shot(page, "auth-login")
    assert_accessible(page)

    # A wrong password is refused where it happens.
    _password_step(page, base, member.email, "not-my-password", next="/profile")
    expect(page.get_by_role("alert")).to_contain_text("Email or password is incorrect")

    _password_step(page, base, member.email, member.password, next="/profile")
    expect(page).to_have_url(f"{base}/profile")
    page.get_by_role("button", name="Set up two-factor authentication").click()
    expect(page.get_by_role("img", name="QR code for your authenticator app")).to_be_visible()
    secret = page.get_by_label("Secret key for your authenticator app").input_value()
    app = Authenticator(secret)
    shot(page, "profile")
    assert_accessible(page)

    page.get_by_label("Code from the app").fill(app.wrong_code())
    page.get_by_role("button", name="Turn on").click()
    expect(page.get_by_text("The code does not match")).to_be_visible()
    page.get_by_label("Code from the app").fill(app.code())
    page.get_by_role("button", name="Turn on").click()
    expect(page.get_by_role("heading", name="Two-factor authentication is on")).to_be_visible()
    codes = (
        page.get_by_role("list", name="Recovery codes").get_by_role("listitem").all_inner_texts()
    )
    assert len(codes) == 10
    assert_accessible(page)
    page.get_by_role("link", name="I have saved them").click()
    expect(page.locator('[data-mfa-state="on"]')).to_be_visible()
    assert_accessible(page)

    _sign_out(page, name)

    # Password, then the code from the app.
    _password_step(page, base, member.email, member.password, next="/profile")
    expect(page.get_by_role("heading", name="Two-factor authentication")).to_be_visible()
    assert "/login/mfa" in page.url
    shot(page, "auth-mfa")
    assert_accessible(page)
    page.get_by_label("Authentication code").fill(app.wrong_code())
    page.get_by_role("button", name="Verify and sign in").click()
    expect(page.get_by_text("The code is not valid")).to_be_visible()
    page.get_by_label("Authentication code").fill(app.code())
    page.get_by_role("button", name="Verify and sign in").click()
    expect(page).to_have_url(f"{base}/profile")
    _sign_out(page, name)

    # A recovery code works once.
    for attempt in range(2):
        _password_step(page, base, member.email, member.password, next="/profile")
        page.get_by_label("Authentication code").fill(codes[0])
        page.get_by_role("button", name="Verify and sign in").click()
        if attempt == 0:
            expect(page).to_have_url(f"{base}/profile")
            expect(page.locator('[data-codes-left="9"]')).to_be_visible()
            _sign_out(page, name)
        else:
            expect(page.get_by_text("The code is not valid")).to_be_visible()
            assert "/login/mfa" in page.url


def test_reset_a_forgotten_password_with_the_mailed_link(
    console: LiveServer, member: Member, page: Page, mailbox: Mailbox
) -> None:
    base = console.url
    page.goto(f"{base}/login")
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Email address").fill(member.email)
    page.get_by_role("button", name="Send the reset link").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()

    mail = mailbox.wait_for(member.email, subject="Reset")
    link = next(w for w in mail.body.split() if "/reset-password?token=" in w)
    assert link.startswith(base)
    page.goto(link)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password again").fill("something-else-entirely-9")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_text("The two passwords do not match")).to_be_visible()
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_text("Your password has been changed")).to_be_visible()

    _password_step(page, base, member.email, NEW_PASSWORD, next="/profile")
    expect(page).to_have_url(f"{base}/profile")
    page.goto(link)  # used once already
    expect(page.get_by_role("heading", name="This link cannot be used")).to_be_visible()


def test_profile_on_a_phone(
    console: LiveServer, member: Member, signed_in: Callable[..., Page]
) -> None:
    page = signed_in(member.email, member.password, viewport=PHONE)
    page.goto(f"{console.url}/profile")
    expect(page.get_by_role("heading", name="Active sessions")).to_be_visible()
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than a phone screen"
    shot(page, "profile-phone")
    assert_accessible(page)


def test_first_run_setup_on_a_fresh_server(work_dir: Path, mailbox: Mailbox, page: Page) -> None:
    with empty_server(work_dir, mailbox) as fresh:
        page.goto(f"{fresh.url}/login")
        expect(page).to_have_url(f"{fresh.url}/setup")
        expect(page.get_by_role("heading", name="Set up Breeze")).to_be_visible()
        shot(page, "setup")
        assert_accessible(page)
        page.get_by_label("Your name").fill("Ada Admin")
        page.get_by_label("Email address").fill("ada@example.com")
        page.get_by_label("Password", exact=True).fill("password1234")
        page.get_by_label("Password again").fill("password1234")
        page.get_by_role("button", name="Create the administrator and sign in").click()
        expect(page.get_by_text("Password is too weak")).to_be_visible()
        assert_accessible(page)
        page.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
        page.get_by_label("Password again").fill(NEW_PASSWORD)
        page.get_by_role("button", name="Create the administrator and sign in").click()
        expect(page).to_have_url(f"{fresh.url}/")
        expect(page.get_by_text("Breeze is ready.")).to_be_visible()
        page.goto(f"{fresh.url}/profile")
        expect(page.get_by_text("ada@example.com")).to_be_visible()
        page.goto(f"{fresh.url}/setup")  # closed now: to sign-in, which sends us on
        expect(page).to_have_url(f"{fresh.url}/")
        expect(page.get_by_role("heading", name="Set up Breeze")).to_have_count(0)
