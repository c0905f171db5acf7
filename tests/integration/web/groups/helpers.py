"""Console clients for the group and custom field page tests: a signed-in session with
the page's CSRF token, as a browser would post forms."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.factories import MEMBER_PASSWORD
from tests.support.browser import sign_in_cookies

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Console:
    """A console session (cookies) that posts forms with the page's CSRF token."""

    def __init__(self, base_url: str, email: str, password: str = MEMBER_PASSWORD) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=30, headers={"Accept": "text/html"})
        for cookie in sign_in_cookies(base_url, email, password):
            self.http.cookies.set(cookie["name"], cookie["value"])
        self.csrf = ""

    def get(self, path: str, **params: Any) -> httpx.Response:
        r = self.http.get(path, params=params)
        found = CSRF.search(r.text)
        if found:
            self.csrf = found.group(1)
        return r

    def post(self, path: str, data: dict[str, Any], **headers: str) -> httpx.Response:
        if not self.csrf:
            self.get("/groups")
        return self.http.post(path, data={"csrf_token": self.csrf, **data}, headers=headers)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Console:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
