"""Sliding-window failure counters: in memory (embedded) or in Redis (scale-out)."""

from __future__ import annotations

import math
import time
from collections import deque
from typing import Protocol

from redis.asyncio import Redis


class RateLimiter(Protocol):
    async def hit(self, key: str, window: int) -> None:
        """Count one event for `key`."""

    async def blocked_for(self, key: str, limit: int, window: int) -> int:
        """Seconds until `key` drops below `limit` events in `window`; 0 when free."""

    async def reset(self, key: str) -> None: ...

    async def close(self) -> None: ...


class MemoryRateLimiter:
    def __init__(self) -> None:
        self._events: dict[str, deque[float]] = {}

    def _trim(self, key: str, window: int, now: float) -> deque[float]:
        events = self._events.setdefault(key, deque())
        while events and events[0] <= now - window:
            events.popleft()
        return events

    async def hit(self, key: str, window: int) -> None:
        now = time.monotonic()
        self._trim(key, window, now).append(now)

    async def blocked_for(self, key: str, limit: int, window: int) -> int:
        now = time.monotonic()
        events = self._trim(key, window, now)
        if len(events) < limit:
            if not events:
                self._events.pop(key, None)
            return 0
        return max(1, math.ceil(events[-limit] + window - now))

    async def reset(self, key: str) -> None:
        self._events.pop(key, None)

    async def close(self) -> None:
        self._events.clear()


class RedisRateLimiter:
    """A sorted set per key, scored by time, shared by every server process."""

    def __init__(self, url: str) -> None:
        self._redis = Redis.from_url(url)

    async def hit(self, key: str, window: int) -> None:
        now = time.time()
        rkey = f"breeze:rl:{key}"
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zadd(rkey, {f"{now:.6f}:{time.perf_counter_ns()}": now})
            pipe.zremrangebyscore(rkey, 0, now - window)
            pipe.expire(rkey, window)
            await pipe.execute()

    async def blocked_for(self, key: str, limit: int, window: int) -> int:
        now = time.time()
        rkey = f"breeze:rl:{key}"
        await self._redis.zremrangebyscore(rkey, 0, now - window)
        recent = await self._redis.zrevrange(rkey, 0, limit - 1, withscores=True)
        if len(recent) < limit:
            return 0
        oldest_counted = float(recent[-1][1])
        return max(1, math.ceil(oldest_counted + window - now))

    async def reset(self, key: str) -> None:
        await self._redis.delete(f"breeze:rl:{key}")

    async def close(self) -> None:
        await self._redis.aclose()


def create_limiter(redis_url: str | None) -> RateLimiter:
    return RedisRateLimiter(redis_url) if redis_url else MemoryRateLimiter()
