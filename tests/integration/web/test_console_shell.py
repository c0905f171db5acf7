"""The console's shared behaviour over HTTP: sign-in redirects, HTML errors, CSRF, scope
and the command palette (browser behaviour is in tests/e2e/web)."""

from __future__ import annotations

import uuid

import httpx

from tests.factories import Tenant
from tests.support.browser import sign_in_cookies
from tests.support.server import ADMIN_EMAIL, ADMIN_PASSWORD, LiveServer

HTML = {"Accept": "text/html"}


def console_client(server: LiveServer) -> httpx.Client:
    c = httpx.Client(base_url=server.url, timeout=30, headers=HTML)
    for cookie in sign_in_cookies(server.url, ADMIN_EMAIL, ADMIN_PASSWORD):
        c.cookies.set(cookie["name"], cookie["value"])
    return c


def test_signed_out_page_goes_to_sign_in_with_the_way_back(anon: httpx.Client) -> None:
    r = anon.get("/palette?org=x", headers=HTML)
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=%2Fpalette%3Forg%3Dx"


def test_htmx_request_signed_out_is_told_to_redirect(anon: httpx.Client) -> None:
    r = anon.get("/palette", headers={**HTML, "HX-Request": "true"})
    assert r.status_code == 204
    assert r.headers["HX-Redirect"].startswith("/login?next=")


def test_api_errors_stay_json(anon: httpx.Client) -> None:
    r = anon.get("/api/v1/devices", headers=HTML)
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")


def test_unknown_page_is_an_html_404(server: LiveServer) -> None:
    with console_client(server) as c:
        r = c.get("/no/such/page")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")
    assert "There is nothing here" in r.text


def test_scope_of_another_tenant_is_a_404(server: LiveServer, tenant: Tenant) -> None:
    with console_client(server) as c:
        r = c.get(f"/palette?org={uuid.uuid4()}")
        assert r.status_code == 404
        r = c.get("/palette?org=not-a-uuid")
        assert r.status_code == 400
        assert "invalid org" in r.text
        r = c.get(f"/palette?org={tenant.org['id']}&q=Devices")
    assert r.status_code == 200
    assert f"/devices?org={tenant.org['id']}" in r.text


def test_scope_switch_leaves_a_detail_page_for_its_list(server: LiveServer, tenant: Tenant) -> None:
    with console_client(server) as c:
        r = c.get(
            "/scope/switch",
            params={"to": f"org:{tenant.org['id']}", "back": f"/devices/{uuid.uuid4()}/software"},
        )
        assert r.status_code == 303
        assert r.headers["location"] == f"/devices?org={tenant.org['id']}"
        r = c.get("/scope/switch", params={"to": "all", "back": "//evil.example/x"})
    assert r.headers["location"] == "/"


def test_palette_offers_pages_and_actions(server: LiveServer) -> None:
    with console_client(server) as c:
        r = c.get("/palette", params={"q": "script"})
    assert r.status_code == 200
    assert "Run a script" in r.text
    assert 'href="/scripts"' in r.text
