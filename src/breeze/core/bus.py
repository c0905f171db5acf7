"""The internal event bus: in memory (embedded) or Redis pub/sub (scale-out).

Events are small JSON objects published after commit (for example
`device.offline`). Subscribers that are not listening when an event is published
do not see it: durable work is driven by database rows, not by the bus.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

from redis.asyncio import Redis

log = logging.getLogger("breeze.bus")
Event = dict[str, Any]
CHANNEL_PREFIX = "breeze:events:"


class Bus(Protocol):
    async def publish(self, topic: str, event: Event) -> None: ...

    def subscribe(self, *topics: str) -> AsyncIterator[asyncio.Queue[tuple[str, Event]]]:
        """Async context manager yielding a queue of (topic, event)."""
        ...

    async def close(self) -> None: ...


class MemoryBus:
    def __init__(self, queue_size: int = 1000) -> None:
        self._subscribers: dict[str, set[asyncio.Queue[tuple[str, Event]]]] = {}
        self._queue_size = queue_size

    async def publish(self, topic: str, event: Event) -> None:
        for queue in list(self._subscribers.get(topic, ())):
            try:
                queue.put_nowait((topic, event))
            except asyncio.QueueFull:
                log.warning("bus subscriber on %s is not keeping up; event dropped", topic)

    @asynccontextmanager
    async def subscribe(self, *topics: str) -> AsyncIterator[asyncio.Queue[tuple[str, Event]]]:
        queue: asyncio.Queue[tuple[str, Event]] = asyncio.Queue(self._queue_size)
        for t in topics:
            self._subscribers.setdefault(t, set()).add(queue)
        try:
            yield queue
        finally:
            for t in topics:
                self._subscribers.get(t, set()).discard(queue)

    async def close(self) -> None:
        self._subscribers.clear()


class RedisBus:
    def __init__(self, url: str) -> None:
        self._redis = Redis.from_url(url)

    async def publish(self, topic: str, event: Event) -> None:
        await self._redis.publish(CHANNEL_PREFIX + topic, json.dumps(event, default=str))

    @asynccontextmanager
    async def subscribe(self, *topics: str) -> AsyncIterator[asyncio.Queue[tuple[str, Event]]]:
        queue: asyncio.Queue[tuple[str, Event]] = asyncio.Queue(1000)
        pubsub = self._redis.pubsub()
        await pubsub.subscribe(*(CHANNEL_PREFIX + t for t in topics))

        async def pump() -> None:
            async for message in pubsub.listen():
                if message.get("type") != "message":
                    continue
                channel = message["channel"].decode().removeprefix(CHANNEL_PREFIX)
                with contextlib.suppress(asyncio.QueueFull, ValueError):
                    queue.put_nowait((channel, json.loads(message["data"])))

        task = asyncio.create_task(pump())
        try:
            yield queue
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await pubsub.unsubscribe()
            await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def close(self) -> None:
        await self._redis.aclose()


def create_bus(redis_url: str | None) -> Bus:
    return RedisBus(redis_url) if redis_url else MemoryBus()  # type: ignore[return-value]
