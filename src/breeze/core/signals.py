"""In-process wake-ups: an action that queued work after commit nudges the worker
task that does it, so it need not wait for its next poll."""

from __future__ import annotations

import asyncio
import contextlib

_events: dict[str, asyncio.Event] = {}


def _event(name: str) -> asyncio.Event:
    return _events.setdefault(name, asyncio.Event())


def wake(name: str) -> None:
    _event(name).set()


async def wait(name: str, seconds: float) -> None:
    """Return when `name` is woken or `seconds` pass."""
    event = _event(name)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)
    event.clear()


def reset() -> None:
    _events.clear()
