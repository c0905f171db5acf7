"""`breeze worker`: the background loop without the HTTP server."""

from __future__ import annotations

import asyncio
import signal

from breeze.core.bus import create_bus
from breeze.core.ratelimit import create_limiter
from breeze.core.state import AppState
from breeze.core.worker import Worker, all_tasks
from breeze.db.engine import create_database
from breeze.db.revision import ensure_at_head
from breeze.settings import Settings


async def run_worker(settings: Settings) -> None:
    db = create_database(settings)
    await ensure_at_head(db)
    state = AppState(
        settings=settings,
        db=db,
        limiter=create_limiter(settings.redis_url),
        bus=create_bus(settings.redis_url),
        secret=settings.secret(),
    )
    worker = Worker(state, all_tasks())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    worker.start()
    try:
        await stop.wait()
    finally:
        await worker.stop()
        await state.limiter.close()
        await state.bus.close()
        await db.dispose()
