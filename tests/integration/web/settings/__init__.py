"""HTTP tests of the settings pages (tenancy, enrollment keys, API keys, audit log).

`Console` is a signed-in console session as a browser has it: the session cookie, and
the CSRF token every form posts.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.factories import MEMBER_PASSWORD
from tests.support.server import ADMIN_EMAIL, ADMIN_PASSWORD, LiveServer

HTML = {"Accept": "text/html"}
HTMX = {**HTML, "HX-Request": "true"}


class Console:
    def __init__(self, server: LiveServer, email: str, password: str) -> None:
        self.http = httpx.Client(base_url=server.url, timeout=30, headers=HTML)
        r = self.http.post(
            "/api/v1/auth/login", json={"email": email, "password": password, "use_cookie": True}
        )
        assert r.status_code == 200, r.text
        self.csrf: str = r.json()["csrf_token"]

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.http.get(path, params=params or None)

    def post(
        self, path: str, data: dict[str, Any] | None = None, htmx: bool = False
    ) -> httpx.Response:
        body = {**(data or {}), "csrf_token": self.csrf}
        return self.http.post(path, data=body, headers=HTMX if htmx else HTML)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Console:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def admin_console(server: LiveServer) -> Console:
    return Console(server, ADMIN_EMAIL, ADMIN_PASSWORD)


def member_console(server: LiveServer, member: httpx.Client) -> Console:
    """The console session of a user made by tests.factories.make_member."""
    return Console(server, member.email, MEMBER_PASSWORD)  # type: ignore[attr-defined]


def field_error(html: str, name: str) -> str | None:
    """The message shown under the form field `name`, if any."""
    found = re.search(rf'id="f-{re.escape(name)}-error">([^<]*)<', html)
    return found.group(1) if found else None


def location(r: httpx.Response) -> str:
    assert r.status_code in (303, 204), f"{r.status_code}: {r.text[:2000]}"
    return r.headers.get("location") or r.headers["HX-Redirect"]
