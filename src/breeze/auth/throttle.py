"""Login throttling per account and per client IP (failures in a sliding window)."""

from __future__ import annotations

from breeze.core.errors import TooManyRequests
from breeze.core.ratelimit import RateLimiter
from breeze.settings import AuthSettings


def _keys(email: str, ip: str | None) -> tuple[str, str]:
    return f"login:acct:{email.strip().lower()}", f"login:ip:{ip or 'unknown'}"


async def check(limiter: RateLimiter, cfg: AuthSettings, email: str, ip: str | None) -> None:
    account, client = _keys(email, ip)
    wait_account = await limiter.blocked_for(
        account, cfg.login_max_failures_per_account, cfg.login_window_seconds
    )
    wait_ip = await limiter.blocked_for(
        client, cfg.login_max_failures_per_ip, cfg.login_window_seconds
    )
    wait = max(wait_account, wait_ip)
    if wait:
        raise TooManyRequests(
            f"Too many failed sign-in attempts; try again in {wait} seconds", retry_after=wait
        )


async def failed(limiter: RateLimiter, cfg: AuthSettings, email: str, ip: str | None) -> None:
    for key in _keys(email, ip):
        await limiter.hit(key, cfg.login_window_seconds)


async def succeeded(limiter: RateLimiter, email: str, ip: str | None) -> None:
    account, _ = _keys(email, ip)
    await limiter.reset(account)


# Password-reset requests: every request counts (not only failures), so the
# mailbox of a victim cannot be flooded and the endpoint cannot be used to spam.
RESET_WINDOW_SECONDS = 3600
RESET_MAX_PER_EMAIL = 5


async def reset_requested(
    limiter: RateLimiter, cfg: AuthSettings, email: str, ip: str | None
) -> None:
    """Count a password-reset request; 429 when the email or the client asks too often.

    The per-IP budget per hour is the login failure budget per IP.
    """
    limits = (
        (f"reset:acct:{email.strip().lower()}", RESET_MAX_PER_EMAIL),
        (f"reset:ip:{ip or 'unknown'}", cfg.login_max_failures_per_ip),
    )
    wait = 0
    for key, limit in limits:
        wait = max(wait, await limiter.blocked_for(key, limit, RESET_WINDOW_SECONDS))
    if wait:
        raise TooManyRequests(
            f"Too many password-reset requests; try again in {wait} seconds", retry_after=wait
        )
    for key, _ in limits:
        await limiter.hit(key, RESET_WINDOW_SECONDS)
