"""Browser tests: the system's Chromium driven by Playwright against a real server (and,
where a test needs one, the real agent on this machine).

Outside CI a machine without Chromium skips these tests with the reason printed; in CI
(`CI` set) a missing browser or missing built assets is a failure.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.factories import Tenant, login, make_tenant
from tests.integration.agent_e2e.conftest import E2E_SERVER_ENV
from tests.support.browser import (
    DESKTOP,
    DIST,
    chromium_path,
    new_console_page,
    sign_in_cookies,
)
from tests.support.server import ADMIN_EMAIL, ADMIN_PASSWORD, LiveServer


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"browser tests are required in CI: {reason}")
    pytest.skip(reason)


# Module scope: Playwright's sync API keeps an event loop running in the main thread while
# it is open, which would stop later async tests of the session from running theirs.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    path = chromium_path()
    if path is None:
        _unavailable("Chromium is not installed (apt-get install chromium)")
    if not DIST.is_file():
        _unavailable("console assets are not built (run `make assets`)")
    with sync_playwright() as pw:
        launched = pw.chromium.launch(
            executable_path=path, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def console(server_factory: Callable[..., LiveServer]) -> LiveServer:
    """The server every browser test talks to (agent-friendly intervals)."""
    return server_factory(**E2E_SERVER_ENV)


@pytest.fixture(scope="session")
def console_admin(console: LiveServer) -> Iterator[httpx.Client]:
    """The platform administrator on the console server, through the JSON API."""
    c = login(console.url, ADMIN_EMAIL, ADMIN_PASSWORD)
    yield c
    c.close()


@pytest.fixture
def console_tenant(console_admin: httpx.Client) -> Tenant:
    return make_tenant(console_admin)


@pytest.fixture
def page_errors() -> list[str]:
    return []


@pytest.fixture
def open_context(browser: Browser) -> Iterator[Callable[..., BrowserContext]]:
    """Make browser contexts (closed after the test): `open_context(viewport=PHONE)`."""
    made: list[BrowserContext] = []

    def _open(**options: object) -> BrowserContext:
        options.setdefault("viewport", DESKTOP)
        ctx = browser.new_context(**options)  # type: ignore[arg-type]
        made.append(ctx)
        return ctx

    yield _open
    for ctx in made:
        ctx.close()


@pytest.fixture
def signed_in(
    console: LiveServer, open_context: Callable[..., BrowserContext], page_errors: list[str]
) -> Callable[..., Page]:
    """`signed_in(email, password, viewport=...)`: a page with that user's console session."""

    def _page(email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD, **options: object) -> Page:
        ctx = open_context(**options)
        ctx.add_cookies(sign_in_cookies(console.url, email, password))  # type: ignore[arg-type]
        return new_console_page(ctx, page_errors)

    return _page


@pytest.fixture
def admin_page(signed_in: Callable[..., Page]) -> Page:
    return signed_in()


@pytest.fixture(autouse=True)
def _no_script_errors(page_errors: list[str]) -> Iterator[None]:
    yield
    assert not page_errors, f"the page raised script errors: {page_errors}"
