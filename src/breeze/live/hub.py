"""Fan-out of command events to the browser streams of this process.

One bus subscription per process (``command.status``, ``command.output``), however many
browsers watch: with Redis a subscription is a connection, so one per viewer would not
scale. Each stream registers a ``Listener`` under the command or batch it watches and
gets only that key's events, in a bounded queue. A listener that falls behind is not
allowed to grow memory: its queue stops taking events and it is flagged ``lagged``, and
the stream re-reads the database (the rows are the truth) before continuing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from prometheus_client import Gauge

from breeze.commands.events import unpack
from breeze.core.state import AppState

log = logging.getLogger("breeze.live")

TOPIC_STATUS = "command.status"
TOPIC_OUTPUT = "command.output"
QUEUE_SIZE = 256
SUBSCRIBE_WAIT = 5.0
STREAMS = Gauge("breeze_live_streams", "Browser event streams open on this server process")


class Listener:
    """What one stream receives: (topic, event) pairs for its key."""

    def __init__(self, size: int = QUEUE_SIZE) -> None:
        self.queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue(size)
        self.lagged = False

    def offer(self, topic: str, event: dict[str, Any]) -> None:
        try:
            self.queue.put_nowait((topic, event))
        except asyncio.QueueFull:
            self.lagged = True

    def take_lag(self) -> bool:
        """True once after the queue overflowed: the stream must re-read the database."""
        lagged, self.lagged = self.lagged, False
        return lagged


class LiveHub:
    def __init__(self, state: AppState) -> None:
        self.state = state
        self._listeners: dict[str, set[Listener]] = {}
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="live-hub")
        try:
            await asyncio.wait_for(self._subscribed.wait(), SUBSCRIBE_WAIT)
        except TimeoutError:
            log.warning("live hub: bus subscription not ready; streams poll the database")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @contextmanager
    def listen(self, key: str) -> Iterator[Listener]:
        """Events of `key` (a command id or a batch id) while the block runs."""
        listener = Listener()
        self._listeners.setdefault(key, set()).add(listener)
        STREAMS.inc()
        try:
            yield listener
        finally:
            STREAMS.dec()
            group = self._listeners.get(key)
            if group is not None:
                group.discard(listener)
                if not group:
                    del self._listeners[key]

    def dispatch(self, topic: str, message: dict[str, Any]) -> None:
        for event in unpack(message):
            self._dispatch_one(topic, event)

    def _dispatch_one(self, topic: str, event: dict[str, Any]) -> None:
        keys = {event.get("command_id")}
        if topic == TOPIC_STATUS:
            keys.add(event.get("batch_id"))
        for key in keys:
            if isinstance(key, str):
                for listener in self._listeners.get(key, ()):
                    listener.offer(topic, event)

    async def _listen(self) -> None:
        while True:
            try:
                async with self.state.bus.subscribe(TOPIC_STATUS, TOPIC_OUTPUT) as queue:
                    self._subscribed.set()
                    while True:
                        topic, event = await queue.get()
                        self.dispatch(topic, event)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("live hub: bus subscription failed; subscribing again")
                await asyncio.sleep(1.0)


def live_hub(app: Any) -> LiveHub:
    hub: LiveHub | None = getattr(app.state, "live_hub", None)
    if hub is None:
        raise RuntimeError("the live hub is not running (router lifespan not entered)")
    return hub


@asynccontextmanager
async def live_lifespan(app: Any) -> AsyncIterator[None]:
    """Router lifespan: inside the app's, so the bus is open."""
    hub = LiveHub(app.state.breeze)
    app.state.live_hub = hub
    await hub.start()
    try:
        yield
    finally:
        await hub.stop()
