"""`breeze worker`: the background loop without the HTTP server."""

from __future__ import annotations

import asyncio
import signal

from breeze.core.state import build_state, close_state
from breeze.core.worker import Worker, all_tasks
from breeze.db.revision import ensure_at_head
from breeze.settings import Settings


async def run_worker(settings: Settings) -> None:
    state = build_state(settings)
    await ensure_at_head(state.db)
    state.worker = Worker(state, all_tasks())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    state.worker.start()
    try:
        await stop.wait()
    finally:
        await close_state(state)
