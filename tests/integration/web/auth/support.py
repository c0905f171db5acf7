"""Helpers of the sign-in and account page tests: a browser-like HTTP client that reads
the forms' CSRF tokens, members made through real invitations, and a server with no
account at all (first-run set-up)."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import create_async_engine

from breeze.audit.models import AuditLog
from breeze.auth.models import Session
from breeze.db.base import utcnow
from tests.factories import MEMBER_PASSWORD, Tenant, invite, ok, unique
from tests.support.databases import new_database
from tests.support.mailbox import Mailbox
from tests.support.server import LiveServer

HTML = {"Accept": "text/html"}
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def browser(url: str) -> httpx.Client:
    """A client that keeps cookies and asks for HTML, like a browser (no redirects followed)."""
    return httpx.Client(base_url=url, timeout=30, headers=HTML)


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "the page has no form with a csrf_token"
    return found.group(1)


def form_post(c: httpx.Client, page: str, action: str, data: dict[str, str]) -> httpx.Response:
    """Open `page`, then submit a form of it to `action` with the page's CSRF token."""
    r = c.get(page)
    assert r.status_code in (200, 400, 422), f"{page}: {r.status_code} {r.text[:300]}"
    return c.post(action, data={"csrf_token": csrf_of(r.text), **data})


def sign_in(c: httpx.Client, email: str, password: str, next: str = "") -> httpx.Response:
    return form_post(
        c,
        f"/login?next={next}" if next else "/login",
        "/login",
        {"email": email, "password": password, "next": next},
    )


@contextmanager
def signed_in(url: str, email: str, password: str) -> Iterator[httpx.Client]:
    """A browser-like client signed in through the /login form."""
    with browser(url) as c:
        r = sign_in(c, email, password)
        assert r.status_code == 303, r.text
        yield c


def set_cookies(r: httpx.Response) -> list[str]:
    return r.headers.get_list("set-cookie")


def cookie_set(r: httpx.Response, name: str) -> str | None:
    """The Set-Cookie header that gives `name` a value (not one that deletes it)."""
    for header in set_cookies(r):
        deleting = header.startswith(f'{name}=""') or "max-age=0" in header.lower()
        if header.startswith(f"{name}=") and not deleting:
            return header
    return None


def cookie_cleared(r: httpx.Response, name: str) -> bool:
    return any(
        h.startswith(f"{name}=") and ("max-age=0" in h.lower() or h.startswith(f'{name}=""'))
        for h in set_cookies(r)
    )


@dataclass
class Member:
    email: str
    password: str


def make_user(admin: httpx.Client, mailbox: Mailbox, tenant: Tenant) -> Member:
    """An Org Technician of the tenant, signed up through a real invitation."""
    email = f"{unique('web')}@example.com"
    invite(admin, email=email, role="Org Technician", org_id=tenant.org["id"])
    token = mailbox.token_for(email, subject="invit")
    with httpx.Client(base_url=str(admin.base_url), timeout=30) as anon:
        ok(
            anon.post(
                "/api/v1/auth/accept-invitation", json={"token": token, "password": MEMBER_PASSWORD}
            )
        )
    return Member(email, MEMBER_PASSWORD)


def _run_db(url: str, work: Any) -> Any:
    async def go() -> Any:
        engine = create_async_engine(url)
        try:
            async with engine.begin() as conn:
                return await work(conn)
        finally:
            await engine.dispose()

    return asyncio.run(go())


def audit_rows(server: LiveServer, **where: Any) -> list[Any]:
    async def work(conn: Any) -> list[Any]:
        stmt = select(AuditLog).filter_by(**where).order_by(AuditLog.seq)
        return list((await conn.execute(stmt)).all())

    result: list[Any] = _run_db(server.database.url, work)
    return result


def idle_sessions(server: LiveServer, email: str, seconds: int) -> None:
    """Make every console session of `email` look unused for `seconds` (time passing)."""
    from breeze.users.models import User

    async def work(conn: Any) -> None:
        uid = (await conn.execute(select(User.id).where(User.email == email))).scalar_one()
        await conn.execute(
            update(Session)
            .where(Session.user_id == uid)
            .values(last_used_at=utcnow() - timedelta(seconds=seconds))
        )

    _run_db(server.database.url, work)


@contextmanager
def empty_server(work_dir: Path, mailbox: Mailbox) -> Iterator[LiveServer]:
    """A migrated server without any account (as after installing), stopped at the end."""
    database = new_database(work_dir / "db")
    server = LiveServer(
        data_dir=work_dir / f"empty-{uuid.uuid4().hex[:8]}",
        database=database,
        extra_env={"BREEZE_SMTP__HOST": "127.0.0.1", "BREEZE_SMTP__PORT": str(mailbox.port)},
    )
    server.data_dir.mkdir(parents=True)
    try:
        server.cli("migrate")
        server.start()
        yield server
    finally:
        server.stop()
        database.drop()
