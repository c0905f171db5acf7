"""TOTP two-factor authentication: setup, sign-in, replay, recovery codes, disable."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlparse

import httpx
import pyotp

from tests.factories import ok
from tests.integration.auth.conftest import (
    API,
    Account,
    Authenticator,
    audit_rows,
    bearer,
    enable_mfa,
    problem,
    raw_login,
)
from tests.support.server import LiveServer


def _challenge(account: Account) -> str:
    body = ok(raw_login(account.url, account.email, account.password))
    assert body == {"mfa_required": True, "mfa_token": body["mfa_token"]}
    return str(body["mfa_token"])


def _verify(account: Account, mfa_token: str, code: str) -> httpx.Response:
    with httpx.Client(base_url=account.url, timeout=30) as anon:
        return anon.post(f"{API}/auth/mfa/verify", json={"mfa_token": mfa_token, "code": code})


def test_setup_and_enable(account: Account, accounts: LiveServer) -> None:
    with account.login() as api:
        setup = ok(api.post(f"{API}/auth/mfa/setup"))
        uri = urlparse(setup["otpauth_uri"])
        assert uri.scheme == "otpauth" and uri.netloc == "totp"
        assert parse_qs(uri.query)["secret"] == [setup["secret"]]
        assert account.email in setup["otpauth_uri"].replace("%40", "@")
        assert pyotp.TOTP(setup["secret"]).now().isdigit()
        app = Authenticator(setup["secret"])

        # Nothing changes until a code proves the app holds the secret.
        assert ok(api.get(f"{API}/auth/me"))["mfa_enabled"] is False
        r = api.post(f"{API}/auth/mfa/enable", json={"code": app.wrong_code()})
        problem(r, 422, "code")
        problem(api.post(f"{API}/auth/mfa/enable", json={"code": "12"}), 422, "code")
        assert ok(api.get(f"{API}/auth/me"))["mfa_enabled"] is False

        codes = ok(api.post(f"{API}/auth/mfa/enable", json={"code": app.code()}))["recovery_codes"]
        assert len(codes) == 10 and len(set(codes)) == 10
        assert ok(api.get(f"{API}/auth/me"))["mfa_enabled"] is True
        problem(api.post(f"{API}/auth/mfa/setup"), 409)
        problem(api.post(f"{API}/auth/mfa/enable", json={"code": app.code()}), 409)
        # The session that enabled MFA stays signed in.
        ok(api.get(f"{API}/auth/me"))
    actions = [r.action for r in audit_rows(accounts, actor_email=account.email)]
    assert "auth.mfa.setup" in actions and "auth.mfa.enable" in actions


def test_enable_without_setup_is_a_conflict(account: Account) -> None:
    with account.login() as api:
        problem(api.post(f"{API}/auth/mfa/enable", json={"code": "123456"}), 409)
        problem(api.post(f"{API}/auth/mfa/disable", json={"password": "x", "code": "123456"}), 409)
        problem(api.post(f"{API}/auth/mfa/recovery-codes", json={"code": "123456"}), 409)


def test_full_sign_in_flow(account: Account, accounts: LiveServer) -> None:
    with account.login() as api:
        app, recovery = enable_mfa(api)

    # The password alone only yields an MFA challenge.
    mfa_token = _challenge(account)
    with bearer(account.url, mfa_token) as api:
        problem(api.get(f"{API}/auth/me"), 401)  # not an access token
    problem(_verify(account, mfa_token, app.wrong_code()), 401)
    problem(_verify(account, "not-a-token", app.code()), 401)

    code = app.code()
    tokens = ok(_verify(account, mfa_token, code))
    with bearer(account.url, tokens["access_token"]) as api:
        assert ok(api.get(f"{API}/auth/me"))["mfa_enabled"] is True

    # The same TOTP code again (a replay) fails, even with a fresh challenge.
    problem(_verify(account, _challenge(account), code), 401)

    # A recovery code works once, in any case and spacing; not twice.
    spaced = "  " + recovery[0].upper() + " "
    ok(_verify(account, _challenge(account), spaced))
    problem(_verify(account, _challenge(account), recovery[0]), 401)

    rows = audit_rows(accounts, action="auth.login", actor_email=account.email, result="success")
    assert {r.details["method"] for r in rows} >= {"password", "totp", "recovery_code"}
    failures = audit_rows(accounts, action="auth.mfa", actor_email=account.email)
    assert failures and all(r.result == "failure" for r in failures)


def test_cookie_sign_in_through_mfa(account: Account) -> None:
    with account.login() as api:
        app, _ = enable_mfa(api)
    body = ok(raw_login(account.url, account.email, account.password, use_cookie=True))
    assert body["mfa_required"] is True
    r = _verify(account, body["mfa_token"], app.code())
    assert set(ok(r)) == {"csrf_token", "expires_in"}
    with httpx.Client(
        base_url=account.url, timeout=30, cookies={"breeze_session": r.cookies["breeze_session"]}
    ) as browser:
        assert ok(browser.get(f"{API}/auth/me"))["auth_method"] == "cookie"


def test_recovery_codes_are_replaced(account: Account, accounts: LiveServer) -> None:
    with account.login() as api:
        app, old = enable_mfa(api)
        problem(
            api.post(f"{API}/auth/mfa/recovery-codes", json={"code": app.wrong_code()}), 422, "code"
        )
        new = ok(api.post(f"{API}/auth/mfa/recovery-codes", json={"code": app.code()}))
        new_codes = new["recovery_codes"]
        assert len(new_codes) == 10 and not set(new_codes) & set(old)
    problem(_verify(account, _challenge(account), old[1]), 401)
    ok(_verify(account, _challenge(account), new_codes[0]))
    assert audit_rows(
        accounts, action="auth.mfa.recovery_codes", actor_email=account.email, result="success"
    )


def test_disable_needs_password_and_code(account: Account, accounts: LiveServer) -> None:
    with account.login() as api:
        app, recovery = enable_mfa(api)
        r = api.post(f"{API}/auth/mfa/disable", json={"password": "wrong", "code": app.code()})
        problem(r, 422, "password")
        r = api.post(
            f"{API}/auth/mfa/disable", json={"password": account.password, "code": app.wrong_code()}
        )
        problem(r, 422, "code")
        problem(api.post(f"{API}/auth/mfa/disable", json={"code": "123456"}), 422, "password")
        assert ok(api.get(f"{API}/auth/me"))["mfa_enabled"] is True
        # A recovery code is a valid second factor for turning MFA off, too.
        r = api.post(
            f"{API}/auth/mfa/disable", json={"password": account.password, "code": recovery[3]}
        )
        ok(r, 204)
        assert ok(api.get(f"{API}/auth/me"))["mfa_enabled"] is False
    # Back to password-only sign-in; the old recovery codes are gone.
    body = ok(raw_login(account.url, account.email, account.password))
    assert "access_token" in body
    rows = audit_rows(accounts, action="auth.mfa.disable", actor_email=account.email)
    assert [r.result for r in rows] == ["failure", "failure", "success"]
    # It can be enabled again, with a new secret.
    with account.login() as api:
        enable_mfa(api)
        assert ok(api.get(f"{API}/auth/me"))["mfa_enabled"] is True


def test_a_pending_challenge_dies_with_a_password_change(account: Account) -> None:
    with account.login() as api:
        app, _ = enable_mfa(api)
    mfa_token = _challenge(account)
    with account.login_with_mfa(app) as api:
        ok(
            api.post(
                f"{API}/auth/change-password",
                json={
                    "current_password": account.password,
                    "new_password": "granite-puzzle-harbor-8841",
                },
            ),
            204,
        )
    problem(_verify(account, mfa_token, app.code()), 401)


def test_one_totp_code_sent_twice_at_once_signs_in_once(account: Account) -> None:
    with account.login() as api:
        app, _ = enable_mfa(api)
    challenges = [_challenge(account) for _ in range(4)]
    code = app.code()
    barrier = threading.Barrier(4)

    def verify(mfa_token: str) -> int:
        barrier.wait()
        return _verify(account, mfa_token, code).status_code

    with ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(verify, challenges))
    assert sorted(statuses) == [200, 401, 401, 401]
