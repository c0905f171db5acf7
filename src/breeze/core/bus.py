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
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol

from redis.asyncio import Redis

log = logging.getLogger("breeze.bus")
Event = dict[str, Any]
CHANNEL_PREFIX = "breeze:events:"
# Events a subscriber may have waiting. A script run on every device of a large fleet
# publishes one wake-up per device at once; at a few hundred bytes each, 100,000 waiting
# events cost tens of MB, while dropping them would delay those pushes to the next beat.
SUBSCRIBER_QUEUE_SIZE = 100_000
SUBSCRIBE_TIMEOUT = 5.0
RECONNECT_MIN = 0.5
RECONNECT_MAX = 10.0


class Bus(Protocol):
    async def publish(self, topic: str, event: Event) -> None: ...

    def subscribe(
        self, *topics: str
    ) -> AbstractAsyncContextManager[asyncio.Queue[tuple[str, Event]]]:
        """Async context manager yielding a queue of (topic, event)."""
        ...

    async def close(self) -> None: ...


class MemoryBus:
    def __init__(self, queue_size: int = SUBSCRIBER_QUEUE_SIZE) -> None:
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
    """Redis pub/sub, one channel per topic.

    `subscribe` returns once Redis has confirmed every channel (or after
    SUBSCRIBE_TIMEOUT), so an event published after it returns is delivered: a caller
    may subscribe, then read the database, then rely on events for what changes next.
    A lost connection is re-established with backoff and the channels re-subscribed;
    events published meanwhile are lost (they are hints, the rows are the truth).
    """

    def __init__(self, url: str) -> None:
        self._redis = Redis.from_url(url)

    async def publish(self, topic: str, event: Event) -> None:
        await self._redis.publish(CHANNEL_PREFIX + topic, json.dumps(event, default=str))

    @asynccontextmanager
    async def subscribe(self, *topics: str) -> AsyncIterator[asyncio.Queue[tuple[str, Event]]]:
        queue: asyncio.Queue[tuple[str, Event]] = asyncio.Queue(SUBSCRIBER_QUEUE_SIZE)
        pubsub = self._redis.pubsub()
        confirmed = asyncio.Event()
        channels = {CHANNEL_PREFIX + t for t in topics}
        await pubsub.subscribe(*channels)

        async def pump() -> None:
            delay = RECONNECT_MIN
            waiting = set(channels)
            while True:
                try:
                    async for message in pubsub.listen():
                        delay = RECONNECT_MIN
                        kind = message.get("type")
                        if kind == "subscribe":
                            waiting.discard(_text(message["channel"]))
                            if not waiting:
                                confirmed.set()
                            continue
                        if kind != "message":
                            continue
                        channel = _text(message["channel"]).removeprefix(CHANNEL_PREFIX)
                        try:
                            queue.put_nowait((channel, json.loads(message["data"])))
                        except asyncio.QueueFull:
                            log.warning("bus subscriber on %s is not keeping up; dropped", channel)
                        except ValueError:
                            log.warning("ignoring a malformed event on %s", channel)
                    return  # unsubscribed
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    # listen() again reconnects, and redis-py re-subscribes our channels.
                    log.warning("redis subscription lost (%s); retrying in %.1fs", exc, delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, RECONNECT_MAX)

        task = asyncio.create_task(pump())
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(confirmed.wait(), SUBSCRIBE_TIMEOUT)
            yield queue
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            with contextlib.suppress(Exception):  # the connection may be gone already
                await pubsub.unsubscribe()
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def close(self) -> None:
        await self._redis.aclose()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def create_bus(redis_url: str | None) -> Bus:
    return RedisBus(redis_url) if redis_url else MemoryBus()  # type: ignore[return-value]
