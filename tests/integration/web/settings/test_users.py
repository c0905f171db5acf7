"""The users pages over HTTP: the list in a scope, inviting through the form (with field
errors), resending, changing and removing memberships, ending sessions, and what each
role is offered or refused."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import httpx

from tests.factories import MEMBER_PASSWORD, Tenant, make_member, make_tenant, ok, role_id, unique
from tests.support.browser import sign_in_cookies
from tests.support.mailbox import Mailbox
from tests.support.server import ADMIN_EMAIL, ADMIN_PASSWORD, LiveServer

HTML = {"Accept": "text/html"}
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def console_as(
    server: LiveServer, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD
) -> httpx.Client:
    """A browser-like client with that user's console session (redirects not followed)."""
    c = httpx.Client(base_url=server.url, timeout=30, headers=HTML)
    for cookie in sign_in_cookies(server.url, email, password):
        c.cookies.set(cookie["name"], cookie["value"])
    return c


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "the page has no form with a csrf_token"
    return found.group(1)


def session_csrf(c: httpx.Client) -> str:
    """The console session's CSRF token (what every form of the session carries)."""
    return str(c.cookies.get("breeze_csrf"))


def member_console(
    server: LiveServer, admin: httpx.Client, mailbox: Mailbox, **kw: Any
) -> httpx.Client:
    api = make_member(admin, mailbox, **kw)
    email = api.email  # type: ignore[attr-defined]
    api.close()
    c = console_as(server, email, MEMBER_PASSWORD)
    c.email = email  # type: ignore[attr-defined]
    return c


def post_form(c: httpx.Client, page: str, action: str, data: dict[str, Any]) -> httpx.Response:
    """Submit a form the way the browser does: token from the page, then POST."""
    r = c.get(page)
    assert r.status_code == 200, r.text
    return c.post(action, data={"csrf_token": csrf_of(r.text), **data})


def test_users_list_is_scoped_and_isolated(
    server: LiveServer, admin: httpx.Client, mailbox: Mailbox, tenant: Tenant
) -> None:
    other = make_tenant(admin)
    mine = member_console(server, admin, mailbox, role="Org Admin", org_id=tenant.org["id"])
    theirs = member_console(server, admin, mailbox, role="Org Viewer", org_id=other.org["id"])
    with console_as(server) as c:
        r = c.get(f"/settings/users?org={tenant.org['id']}")
    assert r.status_code == 200
    assert mine.email in r.text and "Org Admin" in r.text  # type: ignore[attr-defined]
    assert theirs.email not in r.text  # type: ignore[attr-defined]
    # The org admin sees their organization's users only; another tenant's user is a 404.
    r = mine.get("/settings/users")
    assert r.status_code == 200
    assert mine.email in r.text and theirs.email not in r.text  # type: ignore[attr-defined]
    theirs_id = ok(admin.get("/api/v1/users", params={"q": theirs.email}))["items"][0]["id"]  # type: ignore[attr-defined]
    assert mine.get(f"/settings/users/{theirs_id}").status_code == 404
    assert mine.get(f"/settings/users?org={other.org['id']}").status_code == 404
    r = mine.get("/settings/users", params={"q": "no-such-person-anywhere"})
    assert "No users found" in r.text
    mine.close()
    theirs.close()


def test_invite_form_shows_field_errors_then_sends_the_email(
    server: LiveServer, mailbox: Mailbox, tenant: Tenant
) -> None:
    org = tenant.org["id"]
    with console_as(server) as c:
        page = c.get(f"/settings/users/invite?org={org}")
        assert page.status_code == 200
        assert 'name="email"' in page.text and "Org Viewer" in page.text
        body = {"place": f"org:{org}", "role_id": "", "name": "Nobody"}
        r = c.post(
            f"/settings/users/invite?org={org}",
            data={"csrf_token": csrf_of(page.text), "email": "not-an-email", **body},
        )
        assert r.status_code == 422
        email_field = re.search(r'<input id="f-email"[^>]*>', r.text)
        assert email_field and "is-invalid" in email_field.group(0)
        assert 'id="f-email-error"' in r.text and "not-an-email" in r.text  # value kept
        viewer = next(
            v
            for v, label in re.findall(r'<option value="([0-9a-f-]{36})"[^>]*>([^<]+)<', r.text)
            if label.startswith("Org Viewer")
        )
        email = f"{unique('inv')}@example.com"
        r = c.post(
            f"/settings/users/invite?org={org}",
            data={"csrf_token": csrf_of(page.text), **body, "email": email, "role_id": viewer},
        )
        assert r.status_code == 303, r.text
        assert r.headers["location"] == f"/settings/users?org={org}"
        first = mailbox.token_for(email, subject="invit")
        r = c.get(f"/settings/users?org={org}")
        assert "Pending invitations" in r.text and email in r.text
        assert f"Invitation sent to {email}" in r.text  # the flash message
        user_id = re.search(
            rf'/settings/users/([0-9a-f-]{{36}})\?org={org}"[^>]*>{re.escape(email)}', r.text
        )
        assert user_id
        r = c.post(
            f"/settings/users/{user_id.group(1)}/resend-invitation?org={org}",
            data={"csrf_token": csrf_of(page.text)},
        )
        assert r.status_code == 303
    assert new_token(mailbox, email, first) != first


def new_token(mailbox: Mailbox, email: str, old: str, timeout: float = 15.0) -> str:
    """The token of an invitation mailed after the one carrying `old`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        token = mailbox.token_for(email, subject="invit")
        if token != old:
            return token
        time.sleep(0.1)
    raise AssertionError(f"no new invitation to {email}")


def test_invite_role_and_place_errors_are_explained(
    server: LiveServer, admin: httpx.Client, tenant: Tenant
) -> None:
    org = tenant.org["id"]
    with console_as(server) as c:
        token = session_csrf(c)
        email = f"{unique('inv')}@example.com"
        r = c.post("/settings/users/invite", data={"csrf_token": token, "email": email})
        assert r.status_code == 422
        assert 'id="f-place-error"' in r.text and "Choose where the user gets access" in r.text
        # A partner-level role in an organization: the action's words, by the role field.
        r = c.post(
            "/settings/users/invite",
            data={
                "csrf_token": token,
                "email": email,
                "place": f"org:{org}",
                "role_id": role_id(admin, "Partner Admin"),
            },
        )
        assert r.status_code == 422
        assert 'id="invite-role-error"' in r.text and "is a partner role" in r.text
        r = c.get(f"/settings/users/membership-fields?org={org}&place=org:{org}")
        assert r.status_code == 200 and "Org Technician" in r.text and "Partner Admin" not in r.text
        r = c.get(f"/settings/users/membership-fields?place=partner:{tenant.partner['id']}")
        assert "Partner Admin" in r.text and "All organizations" in r.text


def test_members_without_users_write_are_not_offered_and_are_refused(
    server: LiveServer, admin: httpx.Client, mailbox: Mailbox, tenant: Tenant
) -> None:
    org = tenant.org["id"]
    viewer = member_console(server, admin, mailbox, role="Org Viewer", org_id=org)
    tech = member_console(server, admin, mailbox, role="Org Technician", org_id=org)
    r = viewer.get("/settings/users")
    assert r.status_code == 403
    assert "users:read" in r.text
    forged = {
        "csrf_token": session_csrf(viewer),
        "email": f"{unique('x')}@example.com",
        "place": f"org:{org}",
        "role_id": role_id(admin, "Org Viewer"),
    }
    r = viewer.post("/settings/users/invite", data=forged)
    assert r.status_code == 403
    assert "users:write" in r.text
    r = tech.get("/settings/users")
    assert r.status_code == 200
    assert "Invite a user" not in r.text
    assert tech.get("/settings/users/invite").status_code == 403
    viewer_id = ok(admin.get("/api/v1/users", params={"q": viewer.email}))["items"][0]["id"]  # type: ignore[attr-defined]
    r = tech.get(f"/settings/users/{viewer_id}")
    assert r.status_code == 200
    assert "Change role or access" not in r.text and "End session" not in r.text
    r = tech.post(
        f"/settings/users/{viewer_id}/membership",
        data={
            "csrf_token": csrf_of(r.text),
            "place": f"org:{org}",
            "role_id": role_id(admin, "Org Admin"),
        },
    )
    assert r.status_code == 403
    viewer.close()
    tech.close()


def test_admin_changes_a_role_ends_a_session_and_removes_the_membership(
    server: LiveServer, admin: httpx.Client, mailbox: Mailbox, tenant: Tenant
) -> None:
    org = tenant.org["id"]
    member = member_console(server, admin, mailbox, role="Org Viewer", org_id=org)
    email = member.email  # type: ignore[attr-defined]
    user_id = ok(admin.get("/api/v1/users", params={"q": email}))["items"][0]["id"]
    tech_role = role_id(admin, "Org Technician")
    with console_as(server) as c:
        page = c.get(f"/settings/users/{user_id}?org={org}")
        assert page.status_code == 200
        assert "Signed-in sessions" in page.text and "End session" in page.text
        token = csrf_of(page.text)
        r = c.post(
            f"/settings/users/{user_id}/membership?org={org}",
            data={
                "csrf_token": token,
                "form": f"org:{org}",
                "place": f"org:{org}",
                "role_id": tech_role,
            },
        )
        assert r.status_code == 303, r.text
        got = ok(admin.get(f"/api/v1/users/{user_id}"))["memberships"]
        assert [m["role_name"] for m in got] == ["Org Technician"]
        # A site that is not the organization's: the action's message, by the sites field.
        r = c.post(
            f"/settings/users/{user_id}/membership",
            data={
                "csrf_token": token,
                "form": f"org:{org}",
                "place": f"org:{org}",
                "role_id": tech_role,
                "site_access": "selected",
                "site_ids": str(uuid.uuid4()),
            },
        )
        assert r.status_code == 422
        assert "Not sites of this organization" in r.text
        # End the member's console session: their next request must sign in again.
        sid = re.search(rf"/settings/users/{user_id}/sessions/([0-9a-f-]{{36}})/revoke", page.text)
        assert sid
        r = c.post(
            f"/settings/users/{user_id}/sessions/{sid.group(1)}/revoke", data={"csrf_token": token}
        )
        assert r.status_code == 303
        assert member.get("/settings/users").status_code == 303
        r = c.post(
            f"/settings/users/{user_id}/membership/remove",
            data={"csrf_token": token, "place": f"org:{org}"},
        )
        assert r.status_code == 303
        assert admin.get(f"/api/v1/users/{user_id}").json()["memberships"] == []
    member.close()
