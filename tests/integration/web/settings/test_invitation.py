"""The accept-invitation page over HTTP: who invited whom to what, password policy errors
by their field, signing in to the console, and clear words for a used or unknown link."""

from __future__ import annotations

import re

import httpx

from tests.factories import Tenant, invite, unique
from tests.integration.web.settings.test_users import HTML, csrf_of
from tests.support.mailbox import Mailbox
from tests.support.server import ADMIN_EMAIL, LiveServer

STRONG = "copper-meadow-lantern-5520"


def _browser(server: LiveServer) -> httpx.Client:
    return httpx.Client(base_url=server.url, timeout=30, headers=HTML)


def test_invitation_is_accepted_and_signs_in_to_the_console(
    server: LiveServer, admin: httpx.Client, mailbox: Mailbox, tenant: Tenant
) -> None:
    email = f"{unique('join')}@example.com"
    invite(admin, email=email, role="Org Viewer", org_id=tenant.org["id"])
    token = mailbox.token_for(email, subject="invit")
    with _browser(server) as b:
        page = b.get("/accept-invitation", params={"token": token})
        assert page.status_code == 200
        assert ADMIN_EMAIL in page.text  # who invited
        assert tenant.org["name"] in page.text and "Org Viewer" in page.text
        assert email in page.text
        form = {"csrf_token": csrf_of(page.text), "token": token, "name": "Jo Join"}
        r = b.post(
            "/accept-invitation", data={**form, "password": "short", "password_confirm": "short"}
        )
        assert r.status_code == 422
        field = re.search(r'<input id="f-password"[^>]*>', r.text)
        assert field and "is-invalid" in field.group(0)
        assert 'id="f-password-error"' in r.text and "at least" in r.text
        assert 'value="short"' not in r.text  # a password is never sent back
        r = b.post(
            "/accept-invitation",
            data={**form, "password": STRONG, "password_confirm": STRONG + "x"},
        )
        assert r.status_code == 422 and 'id="f-password_confirm-error"' in r.text
        r = b.post(
            "/accept-invitation", data={**form, "password": STRONG, "password_confirm": STRONG}
        )
        assert r.status_code == 303, r.text
        assert r.headers["location"] == "/"
        assert b.cookies.get("breeze_session") and b.cookies.get("breeze_csrf")
        # Signed in: a console page answers instead of sending to the sign-in page.
        r = b.get("/profile")
        assert r.status_code == 200
        assert "Jo Join" in r.text
        # The link worked once.
        r = b.get("/accept-invitation", params={"token": token})
        assert r.status_code == 400 and "no longer works" in r.text
    # The password chosen signs in through the API too.
    with httpx.Client(base_url=server.url, timeout=30) as anon:
        r = anon.post("/api/v1/auth/login", json={"email": email, "password": STRONG})
    assert r.status_code == 200


def test_unknown_missing_or_replaced_links_are_explained(
    server: LiveServer, admin: httpx.Client, mailbox: Mailbox, tenant: Tenant
) -> None:
    with _browser(server) as b:
        r = b.get("/accept-invitation")
        assert r.status_code == 200 and "Open the link from your invitation email" in r.text
        r = b.get("/accept-invitation", params={"token": "brz_inv_nothing-like-this"})
        assert r.status_code == 400 and "no longer works" in r.text
    email = f"{unique('join')}@example.com"
    user = invite(admin, email=email, role="Org Viewer", org_id=tenant.org["id"])
    first = mailbox.token_for(email, subject="invit")
    with _browser(server) as b:
        page = b.get("/accept-invitation", params={"token": first})
        assert page.status_code == 200
        assert admin.post(f"/api/v1/users/{user['id']}/resend-invitation").status_code == 204
        # The page was open before the resend: submitting it now is refused in words.
        r = b.post(
            "/accept-invitation",
            data={
                "csrf_token": csrf_of(page.text),
                "token": first,
                "name": "Late",
                "password": STRONG,
                "password_confirm": STRONG,
            },
        )
        assert r.status_code == 400 and "no longer works" in r.text
        assert not b.cookies.get("breeze_session")


def test_the_form_needs_its_csrf_cookie(server: LiveServer) -> None:
    with _browser(server) as b:
        r = b.post(
            "/accept-invitation",
            data={
                "csrf_token": "forged",
                "token": "x",
                "password": STRONG,
                "password_confirm": STRONG,
            },
        )
    assert r.status_code == 403
    assert "reload the page" in r.text
