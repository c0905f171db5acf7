"""Fixtures of the authentication tests.

Most tests here fail sign-ins on purpose, change passwords and end sessions, so
they run against a server of their own (`accounts`) with users created through the
real CLI (`breeze admin create`): nothing they do can lock out or sign out the
platform administrator the other test packages share.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pyotp
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from breeze.audit.models import AuditLog
from tests.factories import client, login, ok
from tests.support.mailbox import Mailbox, Received
from tests.support.server import ADMIN_EMAIL, ADMIN_PASSWORD, LiveServer

PASSWORD = "copper-meadow-violin-2718"
NEW_PASSWORD = "silent-orchard-compass-5093"
API = "/api/v1"


@dataclass
class Account:
    email: str
    password: str
    server: LiveServer

    @property
    def url(self) -> str:
        return self.server.url

    def login(self) -> httpx.Client:
        return login(self.url, self.email, self.password)

    def login_with_mfa(self, app: Authenticator) -> httpx.Client:
        challenge = ok(raw_login(self.url, self.email, self.password))
        with httpx.Client(base_url=self.url, timeout=30) as anon:
            r = anon.post(
                f"{API}/auth/mfa/verify",
                json={"mfa_token": challenge["mfa_token"], "code": app.code()},
            )
        return client(self.url, ok(r)["access_token"])


@pytest.fixture(scope="session")
def accounts(server_factory: Callable[..., LiveServer]) -> LiveServer:
    """A server for tests that create users, fail sign-ins and revoke sessions."""
    return server_factory()


@pytest.fixture(scope="session")
def accounts_admin(accounts: LiveServer) -> Iterator[httpx.Client]:
    c = login(accounts.url, ADMIN_EMAIL, ADMIN_PASSWORD)
    yield c
    c.close()


def create_user(server: LiveServer, password: str = PASSWORD) -> Account:
    """A user made with the real CLI (a platform administrator: the only kind the CLI
    makes; these tests act on their own account, so the role does not matter)."""
    email = f"user-{uuid.uuid4().hex[:10]}@example.com"
    server.cli("admin", "create", "--email", email, "--password", password, "--name", "Test User")
    return Account(email, password, server)


@pytest.fixture
def account(accounts: LiveServer) -> Account:
    return create_user(accounts)


def raw_login(url: str, email: str, password: str, **extra: Any) -> httpx.Response:
    with httpx.Client(base_url=url, timeout=30) as anon:
        return anon.post(f"{API}/auth/login", json={"email": email, "password": password, **extra})


def bearer(url: str, token: str) -> httpx.Client:
    return client(url, token)


def problem(r: httpx.Response, status: int, field: str | None = None) -> dict[str, Any]:
    """Assert an application/problem+json answer, optionally naming `field`."""
    assert r.status_code == status, f"{r.status_code}: {r.text}"
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    body: dict[str, Any] = r.json()
    assert body["status"] == status and body["detail"]
    if field is not None:
        fields = [e["field"] for e in body.get("errors", [])]
        assert field in fields, body
    return body


def audit_rows(server: LiveServer, **where: Any) -> list[Any]:
    """Audit rows matching column values, read from the server's database (the audit
    API is another package's subject; this check does not depend on it)."""

    async def go() -> list[Any]:
        engine = create_async_engine(server.database.url)
        try:
            async with engine.connect() as conn:
                stmt = select(AuditLog).filter_by(**where).order_by(AuditLog.seq)
                return list((await conn.execute(stmt)).all())
        finally:
            await engine.dispose()

    return asyncio.run(go())


def mails_to(mailbox: Mailbox, to: str, subject: str = "") -> list[Received]:
    with mailbox._lock:
        return [
            m
            for m in mailbox.messages
            if to.lower() in m.to and subject.lower() in m.subject.lower()
        ]


def wait_for_mails(
    mailbox: Mailbox, to: str, count: int, subject: str = "", timeout: float = 15.0
) -> list[Received]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = mails_to(mailbox, to, subject)
        if len(found) >= count:
            return found
        time.sleep(0.05)
    raise AssertionError(f"expected {count} mail(s) to {to} about {subject!r}")


class Authenticator:
    """An authenticator app: a fresh TOTP code per call, each for a later time step
    than the last (the server refuses a step it has already seen)."""

    def __init__(self, secret: str) -> None:
        self.totp = pyotp.TOTP(secret)
        self.last: int | None = None

    def _now(self) -> tuple[int, float]:
        now = time.time()
        return int(now // self.totp.interval), now % self.totp.interval

    def code(self) -> str:
        current, into = self._now()
        step = current - 1 if into < self.totp.interval - 3 else current
        if self.last is not None:
            step = max(step, self.last + 1)
        while step > self._now()[0] + 1:  # the server accepts one step ahead at most
            time.sleep(0.25)
        self.last = step
        return str(self.totp.generate_otp(step))

    def wrong_code(self) -> str:
        current, _ = self._now()
        valid = {self.totp.generate_otp(s) for s in range(current - 2, current + 3)}
        return next(c for c in (f"{n:06d}" for n in range(123456, 999999, 7919)) if c not in valid)


def enable_mfa(api: httpx.Client) -> tuple[Authenticator, list[str]]:
    setup = ok(api.post(f"{API}/auth/mfa/setup"))
    app = Authenticator(setup["secret"])
    codes = ok(api.post(f"{API}/auth/mfa/enable", json={"code": app.code()}))["recovery_codes"]
    return app, codes
