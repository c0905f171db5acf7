"""When to call the server next: interval jitter, error backoff, Retry-After."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

JITTER = 0.10  # heartbeats spread over +-10% so a fleet does not beat in lockstep


def jittered(interval: float, spread: float = JITTER, rng: random.Random | None = None) -> float:
    """``interval`` scaled by a uniform factor in [1 - spread, 1 + spread]."""
    r = rng or random
    return interval * r.uniform(1.0 - spread, 1.0 + spread)


class Backoff:
    """Exponential backoff with jitter for consecutive failures.

    The n-th consecutive failure (n >= 1) waits a random time in ``[d/2, d]`` where
    ``d = min(cap, base * factor**(n-1))``: never zero (no spinning), never above ``cap``,
    and spread so many agents that lost the server at once do not return in one wave.
    """

    def __init__(
        self,
        base: float = 1.0,
        cap: float = 300.0,
        factor: float = 2.0,
        rng: random.Random | None = None,
    ) -> None:
        if base <= 0 or cap < base or factor < 1:
            raise ValueError("need 0 < base <= cap and factor >= 1")
        self.base = base
        self.cap = cap
        self.factor = factor
        self.failures = 0
        self._rng = rng or random.Random()

    def ceiling(self, failures: int) -> float:
        """Upper bound of the wait after ``failures`` consecutive failures."""
        if failures <= 0:
            return 0.0
        exponent = min(failures - 1, 64)  # large enough to reach any cap, no overflow
        return min(self.cap, self.base * self.factor**exponent)

    def next_delay(self) -> float:
        self.failures += 1
        high = self.ceiling(self.failures)
        return self._rng.uniform(high / 2, high)

    def reset(self) -> None:
        self.failures = 0


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date)."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        return float(int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    delta = (when - (now or datetime.now(UTC))).total_seconds()
    return max(0.0, delta)


def retry_after_delay(
    seconds: float, spread: float = JITTER, rng: random.Random | None = None
) -> float:
    """Wait at least what the server asked, plus up to ``spread`` more to avoid a stampede."""
    r = rng or random
    return seconds * (1.0 + r.uniform(0.0, spread)) if seconds > 0 else r.uniform(0.0, 1.0)
