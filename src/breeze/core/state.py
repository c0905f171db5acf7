"""What the running app holds: settings, database, limiter, bus. One per process."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fastapi import Request

from breeze.core.bus import Bus, MemoryBus
from breeze.core.ratelimit import RateLimiter
from breeze.db.engine import Database
from breeze.settings import Settings

if TYPE_CHECKING:
    from breeze.commands.push import LocalSockets
    from breeze.core.worker import Worker


@dataclass
class AppState:
    settings: Settings
    db: Database
    limiter: RateLimiter
    secret: str
    bus: Bus = field(default_factory=MemoryBus)  # type: ignore[assignment]
    worker: Worker | None = None
    # The agent sockets of this process, while the server's agent hub runs: a script
    # batch hands its envelopes to them directly (commands.push).
    sockets: LocalSockets | None = None
    # Run (in order) when the process stops, before connections close: e.g. flushing
    # buffered heartbeats so no accepted metric is lost.
    on_shutdown: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    started: bool = field(default=False)


def build_state(settings: Settings) -> AppState:
    """The process's shared state for a server or a worker."""
    from breeze.core.bus import create_bus
    from breeze.core.ratelimit import create_limiter
    from breeze.db.engine import create_database

    return AppState(
        settings=settings,
        db=create_database(settings),
        limiter=create_limiter(settings.redis_url),
        bus=create_bus(settings.redis_url),
        secret=settings.secret(),
    )


async def close_state(state: AppState) -> None:
    if state.worker:
        await state.worker.stop()
    for hook in state.on_shutdown:
        try:
            await hook()
        except Exception:
            logging.getLogger("breeze").exception("shutdown hook failed")
    await state.limiter.close()
    await state.bus.close()
    await state.db.dispose()


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.breeze
    return state
