"""Failed sign-ins are throttled per account and per client address (429 + Retry-After).

A server of its own with small budgets: 3 failures per account, 6 per address.
The client address comes from X-Forwarded-For, which the server trusts from
loopback, so each test acts from an address of its own.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.factories import client, ok
from tests.integration.auth.conftest import API, PASSWORD, create_user, problem
from tests.support.server import LiveServer


@pytest.fixture(scope="module")
def strict(server_factory: Callable[..., LiveServer]) -> LiveServer:
    return server_factory(
        BREEZE_AUTH__LOGIN_MAX_FAILURES_PER_ACCOUNT="3",
        BREEZE_AUTH__LOGIN_MAX_FAILURES_PER_IP="6",
    )


def _login(srv: LiveServer, ip: str, email: str, password: str) -> httpx.Response:
    with httpx.Client(base_url=srv.url, timeout=30, headers={"X-Forwarded-For": ip}) as c:
        return c.post(f"{API}/auth/login", json={"email": email, "password": password})


def _retry_after(r: httpx.Response) -> int:
    problem(r, 429)
    wait = int(r.headers["retry-after"])
    assert 0 < wait <= 900
    return wait


def test_per_account_lockout_even_with_the_right_password(strict: LiveServer) -> None:
    user = create_user(strict)
    for _ in range(3):
        problem(_login(strict, "198.51.100.10", user.email, "wrong-password"), 401)
    r = _login(strict, "198.51.100.10", user.email, PASSWORD)
    _retry_after(r)
    assert "access_token" not in r.text
    # The lock is on the account: another address is refused as well...
    _retry_after(_login(strict, "198.51.100.11", user.email, PASSWORD))
    # ...while other accounts from the first address still sign in.
    other = create_user(strict)
    assert "access_token" in ok(_login(strict, "198.51.100.10", other.email, PASSWORD))


def test_per_address_lockout_across_accounts(strict: LiveServer) -> None:
    ip = "203.0.113.20"
    for n in range(6):
        problem(_login(strict, ip, f"victim-{n}@example.com", "guess-123456"), 401)
    victim = create_user(strict)
    _retry_after(_login(strict, ip, victim.email, PASSWORD))
    # Someone else, elsewhere, is not affected.
    assert "access_token" in ok(_login(strict, "203.0.113.21", victim.email, PASSWORD))


def test_success_resets_the_account_count(strict: LiveServer) -> None:
    user = create_user(strict)
    ip = "198.51.100.30"
    for _ in range(2):
        problem(_login(strict, ip, user.email, "wrong-password"), 401)
    ok(_login(strict, ip, user.email, PASSWORD))
    for _ in range(2):
        problem(_login(strict, ip, user.email, "wrong-password"), 401)
    ok(_login(strict, ip, user.email, PASSWORD))


def test_wrong_current_password_counts_as_a_failed_attempt(strict: LiveServer) -> None:
    user = create_user(strict)
    ip = "198.51.100.40"
    token = ok(_login(strict, ip, user.email, PASSWORD))["access_token"]
    with client(strict.url, token, **{"X-Forwarded-For": ip}) as api:
        for _ in range(3):
            r = api.post(
                f"{API}/auth/change-password",
                json={"current_password": "not-it", "new_password": "x" * 20},
            )
            problem(r, 422, "current_password")
        r = api.post(
            f"{API}/auth/change-password",
            json={"current_password": PASSWORD, "new_password": "orbit-lantern-maple-3390"},
        )
        _retry_after(r)
    _retry_after(_login(strict, ip, user.email, PASSWORD))
