"""What the running app holds: settings, database, limiter, bus. One per process."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fastapi import Request

from breeze.core.bus import Bus, MemoryBus
from breeze.core.ratelimit import RateLimiter
from breeze.db.engine import Database
from breeze.settings import Settings

if TYPE_CHECKING:
    from breeze.core.worker import Worker


@dataclass
class AppState:
    settings: Settings
    db: Database
    limiter: RateLimiter
    secret: str
    bus: Bus = field(default_factory=MemoryBus)  # type: ignore[assignment]
    worker: Worker | None = None
    started: bool = field(default=False)


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.breeze
    return state
