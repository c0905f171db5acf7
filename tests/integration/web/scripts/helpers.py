"""Signed-in console clients for the script pages' HTTP tests."""

from __future__ import annotations

import re

import httpx

from tests.support.browser import sign_in_cookies

HTML = {"Accept": "text/html"}
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def console(base_url: str, email: str, password: str) -> httpx.Client:
    c = httpx.Client(base_url=base_url, timeout=30, headers=HTML)
    for cookie in sign_in_cookies(base_url, email, password):
        c.cookies.set(cookie["name"], cookie["value"])
    return c


def csrf(c: httpx.Client) -> str:
    page = c.get("/scripts")
    found = _CSRF.search(page.text)
    assert found, page.text[:500]
    return found.group(1)


def post(c: httpx.Client, path: str, data: dict[str, object]) -> httpx.Response:
    return c.post(path, data={"csrf_token": csrf(c), **data})  # type: ignore[arg-type]
