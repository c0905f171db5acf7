"""Live output of a running command: pieces batched every ``FLUSH_SECONDS`` into ordered
``OutputChunk``s (``seq`` from 0 per command) and handed to a sender (the WebSocket when it
is connected, else ``POST .../output``). Streaming is best effort: the final result carries
the whole (capped) output, so a lost batch is not retried."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from breeze_protocol.commands import OutputChunk, Stream

log = logging.getLogger(__name__)

FLUSH_SECONDS = 0.25
CHUNK_CHARS = 16_384  # well below OutputChunk.data's limit
BATCH_CHUNKS = 200  # OutputBatch's limit

Sender = Callable[[list[OutputChunk]], Awaitable[None]]


class OutputStream:
    def __init__(self, command_id: str, sender: Sender, every: float = FLUSH_SECONDS) -> None:
        self.command_id = command_id
        self.sender = sender
        self.every = every
        self.seq = 0
        self._pending: list[tuple[Stream, str]] = []
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    def write(self, stream: Stream, text: str) -> None:
        """Called by the runner with each decoded piece, in order."""
        if text:
            self._pending.append((stream, text))

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=f"output-{self.command_id}")

    async def close(self) -> None:
        """Stop the timer and send what is left (before the result goes out)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            # Shielded: a close() during a send lets it finish, so no batch is cut in half.
            await asyncio.shield(self.flush())

    def _take(self) -> list[OutputChunk]:
        pieces, self._pending = self._pending, []
        merged: list[tuple[Stream, str]] = []
        for stream, text in pieces:
            if merged and merged[-1][0] == stream and len(merged[-1][1]) + len(text) <= CHUNK_CHARS:
                merged[-1] = (stream, merged[-1][1] + text)
                continue
            for start in range(0, len(text), CHUNK_CHARS):
                merged.append((stream, text[start : start + CHUNK_CHARS]))
        chunks = []
        for stream, text in merged:
            chunks.append(
                OutputChunk(command_id=self.command_id, seq=self.seq, stream=stream, data=text)
            )
            self.seq += 1
        return chunks

    async def flush(self) -> None:
        async with self._lock:  # keeps batches in seq order
            chunks = self._take()
            for start in range(0, len(chunks), BATCH_CHUNKS):
                try:
                    await self.sender(chunks[start : start + BATCH_CHUNKS])
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # streaming is best effort; the result has it all
                    log.debug("output of %s not streamed: %s", self.command_id, exc)
