"""The console's cookies: the httponly session cookie, the CSRF cookie that the console's
scripts echo, and the short-lived cookie that carries an MFA challenge between the two
sign-in steps. The JSON API's cookie sign-in and the console pages set them alike."""

from __future__ import annotations

from starlette.responses import Response

from breeze.auth.actions import Issued
from breeze.auth.principals import CSRF_COOKIE, SESSION_COOKIE
from breeze.settings import AuthSettings

MFA_COOKIE = "breeze_mfa"
MFA_COOKIE_PATH = "/login"


def set_session_cookies(response: Response, issued: Issued, cfg: AuthSettings) -> None:
    """Hand a console session (cookie_token) to the browser."""
    ttl = cfg.refresh_token_ttl_seconds
    response.set_cookie(
        SESSION_COOKIE,
        issued.cookie_token or "",
        max_age=ttl,
        httponly=True,
        secure=cfg.cookie_secure,
        samesite="lax",
        path="/",
    )
    # Readable by the console's scripts, which echo it in X-CSRF-Token.
    response.set_cookie(
        CSRF_COOKIE,
        issued.csrf_token or "",
        max_age=ttl,
        httponly=False,
        secure=cfg.cookie_secure,
        samesite="strict",
        path="/",
    )


def clear_session_cookies(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")


def set_mfa_cookie(response: Response, mfa_token: str, cfg: AuthSettings) -> None:
    """Keep the MFA challenge of a console sign-in until the code is entered; only the
    sign-in pages receive it and scripts cannot read it."""
    response.set_cookie(
        MFA_COOKIE,
        mfa_token,
        max_age=cfg.mfa_token_ttl_seconds,
        httponly=True,
        secure=cfg.cookie_secure,
        samesite="strict",
        path=MFA_COOKIE_PATH,
    )


def clear_mfa_cookie(response: Response) -> None:
    response.delete_cookie(MFA_COOKIE, path=MFA_COOKIE_PATH)
