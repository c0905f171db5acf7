"""Driving the system's Chromium (Debian's `chromium`) with Playwright, signed in to a real
server: screenshots kept as test artifacts, and an accessibility check with axe-core."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import BrowserContext, Page

ROOT = Path(__file__).resolve().parents[2]
AXE_JS = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
DIST = ROOT / "src" / "breeze" / "web" / "static" / "dist" / "main.js"
ARTIFACTS = Path(os.environ.get("BREEZE_TEST_ARTIFACTS", ROOT / "test-artifacts"))
SCREENSHOTS = ARTIFACTS / "screenshots"
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


def chromium_path() -> str | None:
    for name in (os.environ.get("BREEZE_CHROMIUM", ""), "chromium", "chromium-browser"):
        if name and (found := shutil.which(name)):
            return found
    return None


def sign_in_cookies(base_url: str, email: str, password: str) -> list[dict[str, Any]]:
    """A console session for `email`, made through the JSON API's cookie sign-in."""
    with httpx.Client(base_url=base_url, timeout=30) as anon:
        r = anon.post(
            "/api/v1/auth/login", json={"email": email, "password": password, "use_cookie": True}
        )
        assert r.status_code == 200, r.text
        assert "csrf_token" in r.json(), f"sign-in needs a second factor: {r.text}"
        return [{"name": c.name, "value": c.value or "", "url": base_url} for c in anon.cookies.jar]


def shot(page: Page, name: str) -> Path:
    """Save a full-page screenshot as a test artifact (test-artifacts/screenshots)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    # A sticky header would be painted halfway down a full-page capture.
    page.screenshot(
        path=str(path), full_page=True, style=".sticky-top { position: static !important; }"
    )
    return path


def axe_violations(page: Page, *, include_minor: bool = False) -> list[dict[str, Any]]:
    """WCAG 2.x A/AA violations axe-core finds on the page as it is now."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=AXE_JS.read_text())
    result: dict[str, Any] = page.evaluate(
        """async () => await window.axe.run(document, {
            runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']},
        })"""
    )
    violations: list[dict[str, Any]] = result["violations"]
    if include_minor:
        return violations
    return [v for v in violations if v.get("impact") in {"serious", "critical"}]


def assert_accessible(page: Page) -> None:
    found = axe_violations(page)
    summary = [
        {
            "rule": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"][:5]],
        }
        for v in found
    ]
    assert not found, "accessibility violations:\n" + json.dumps(summary, indent=2)


def new_console_page(context: BrowserContext, errors: list[str] | None = None) -> Page:
    """A page that records script errors (an island that fails to load is a failure)."""
    page = context.new_page()
    page.set_default_timeout(15_000)
    if errors is not None:
        page.on("pageerror", lambda exc: errors.append(str(exc)))
    return page
