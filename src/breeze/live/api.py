"""Server-sent event streams for the browser (``text/event-stream``).

* ``GET /devices/{device_id}/commands/{command_id}/stream``: a ``status`` event, the output
  stored so far as ``output`` events, then live ``output`` and ``status`` events until the
  command is final; the last event is the final ``status`` (``"final": true``, with exit
  code, error and the final stdout/stderr), then the stream ends.
* ``GET /script-batches/{batch_id}/stream``: ``progress`` (counts per state), then a
  ``status`` event per execution that changes and a fresh ``progress`` after it, until every
  execution is final (the last ``progress`` has ``"done": true``).

Authorization happens once, before the stream starts (another tenant's command or batch
is a plain 404). The stream subscribes before it reads the database, so nothing between
the snapshot and the first live event is missed; output repeats are dropped by ``seq``.
Bus events are hints: the stream also re-reads the row every ``RECHECK_SECONDS`` and after
its queue overflowed, so a lost event delays an update but never leaves a stream hanging.
A comment line every ``KEEPALIVE_SECONDS`` keeps proxies from closing an idle stream.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from breeze.auth.deps import CurrentCtx
from breeze.commands import queries
from breeze.commands.models import FINAL_STATES, OPEN_STATES, DeviceCommand
from breeze.commands.schemas import CommandOut
from breeze.core.principal import Principal
from breeze.core.state import AppState
from breeze.live.hub import TOPIC_OUTPUT, TOPIC_STATUS, Listener, live_hub, live_lifespan
from breeze.scripts.queries import get_batch

RECHECK_SECONDS = 5.0
FIRST = asyncio.FIRST_COMPLETED
KEEPALIVE_SECONDS = 15.0
STATUS_FIELDS = (
    "device_id",
    "batch_id",
    "status",
    "exit_code",
    "error",
    "sent_at",
    "started_at",
    "completed_at",
    "duration_ms",
    "cancel_requested_at",
)
FINAL_FIELDS = (
    "stdout",
    "stderr",
    "stdout_truncated",
    "stderr_truncated",
    "result_details",
    "result_late",
)
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

router = APIRouter(tags=["live"], lifespan=live_lifespan)


def sse(event: str, data: dict[str, Any], event_id: str | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def status_data(cmd: DeviceCommand) -> dict[str, Any]:
    out = CommandOut.model_validate(cmd).model_dump(mode="json")
    final = cmd.status in FINAL_STATES
    data = {"command_id": str(cmd.id), **{k: out[k] for k in STATUS_FIELDS}, "final": final}
    if final:
        data.update({k: out[k] for k in FINAL_FIELDS})
    return data


class Ticker:
    """When to re-read the database and when to send a keep-alive."""

    def __init__(self) -> None:
        self.last_write = time.monotonic()

    def wrote(self) -> None:
        self.last_write = time.monotonic()

    def keepalive_due(self) -> bool:
        return time.monotonic() - self.last_write >= KEEPALIVE_SECONDS


class Watch:
    """A stream's listener plus its client: the next event, a timeout tick, or gone.

    Under ASGI 2.4 Starlette notices a closed client only when a write fails, i.e. at the
    next keep-alive; watching ``http.disconnect`` ends the stream (and frees its
    listener) as soon as the browser goes away.
    """

    def __init__(self, request: Request, listener: Listener) -> None:
        self.listener = listener
        self._gone = asyncio.create_task(self._until_disconnect(request))

    @staticmethod
    async def _until_disconnect(request: Request) -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass

    @property
    def gone(self) -> bool:
        return self._gone.done()

    def close(self) -> None:
        self._gone.cancel()

    async def next(self) -> tuple[str, dict[str, Any]] | None:
        """The next event, or None after RECHECK_SECONDS without one (or when gone)."""
        getter: asyncio.Future[tuple[str, dict[str, Any]]] = asyncio.ensure_future(
            self.listener.queue.get()
        )
        waiting: set[asyncio.Future[Any]] = {getter, self._gone}
        await asyncio.wait(waiting, timeout=RECHECK_SECONDS, return_when=FIRST)
        if getter.done():
            return getter.result()
        getter.cancel()
        return None

    def take_queued(self) -> tuple[str, dict[str, Any]] | None:
        queue = self.listener.queue
        return queue.get_nowait() if not queue.empty() else None


# -- one command -----------------------------------------------------------------------------


async def _read_command(
    state: AppState, principal: Principal, command_id: uuid.UUID, device_id: uuid.UUID
) -> tuple[DeviceCommand, list[dict[str, Any]]]:
    async with state.db.read() as s:
        cmd = await queries.get_command(s, principal, command_id, device_id=device_id)
        chunks = [
            {"seq": c.seq, "stream": c.stream, "data": c.data}
            for c in await queries.output_chunks(s, command_id)
        ]
    return cmd, chunks


async def command_stream(
    watch: Watch,
    state: AppState,
    principal: Principal,
    command_id: uuid.UUID,
    device_id: uuid.UUID,
) -> AsyncIterator[str]:
    ticker = Ticker()
    seen: set[int] = set()
    last_status: dict[str, Any] | None = None

    def output(chunks: list[dict[str, Any]]) -> list[str]:
        events = []
        for chunk in sorted(chunks, key=lambda c: int(c.get("seq", 0))):
            seq = int(chunk.get("seq", -1))
            if seq < 0 or seq in seen:
                continue
            seen.add(seq)
            data = {"command_id": str(command_id), **chunk}
            events.append(sse("output", data, event_id=str(seq)))
        return events

    async def sync(with_chunks: bool) -> tuple[list[str], bool]:
        """Events for what the database says now (output first, the status last: after a
        final status the stream ends), and whether the command is final."""
        nonlocal last_status
        cmd, chunks = await _read_command(state, principal, command_id, device_id)
        events = output(chunks) if with_chunks else []
        status = status_data(cmd)
        if status != last_status:
            events.append(sse("status", status))
            last_status = status
        return events, bool(status["final"])

    cmd, chunks = await _read_command(state, principal, command_id, device_id)
    last_status = status_data(cmd)
    final = bool(last_status["final"])
    yield sse("status", last_status)
    if not final:  # once final, chunks are superseded by the final status's stdout/stderr
        for e in output(chunks):
            yield e
    while not final:
        item = await watch.next()
        if watch.gone:
            return
        if item is None or watch.listener.take_lag():
            events, final = await sync(with_chunks=True)
        elif item[0] == TOPIC_OUTPUT:
            events = output(list(item[1].get("chunks") or []))
        else:
            events, final = await sync(with_chunks=False)
        if not events and ticker.keepalive_due():
            events = [": keep-alive\n\n"]
        for e in events:
            ticker.wrote()
            yield e


@router.get(
    "/devices/{device_id}/commands/{command_id}/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def stream_command(
    ctx: CurrentCtx, request: Request, device_id: uuid.UUID, command_id: uuid.UUID
) -> StreamingResponse:
    """Live status and output of one command (server-sent events) until it is final."""
    async with ctx.read() as s:
        await queries.get_command(s, ctx.principal, command_id, device_id=device_id)
    hub = live_hub(request.app)

    async def body() -> AsyncIterator[str]:
        with hub.listen(str(command_id)) as listener:
            watch = Watch(request, listener)
            try:
                async for chunk in command_stream(
                    watch, ctx.state, ctx.principal, command_id, device_id
                ):
                    yield chunk
            finally:
                watch.close()

    return StreamingResponse(body(), media_type="text/event-stream", headers=SSE_HEADERS)


# -- one script batch ------------------------------------------------------------------------


async def _progress(state: AppState, batch_id: uuid.UUID, total: int) -> dict[str, Any]:
    async with state.db.read() as s:
        counts = (await queries.status_counts(s, [batch_id])).get(batch_id, {})
    finished = sum(n for status, n in counts.items() if status in FINAL_STATES)
    still_open = sum(n for status, n in counts.items() if status in OPEN_STATES)
    return {
        "batch_id": str(batch_id),
        "total": max(total, sum(counts.values())),
        "counts": counts,
        "finished": finished,
        "done": still_open == 0 and finished >= total,
    }


async def batch_stream(
    watch: Watch, state: AppState, batch_id: uuid.UUID, total: int
) -> AsyncIterator[str]:
    ticker = Ticker()
    progress = await _progress(state, batch_id, total)
    yield sse("progress", progress)
    while not progress["done"]:
        item = await watch.next()
        if watch.gone:
            return
        events: list[str] = []
        changed = item is None or watch.listener.take_lag()
        while item is not None:  # take everything queued, then count once
            if item[0] == TOPIC_STATUS:
                event = item[1]
                data = {k: event.get(k) for k in ("command_id", "device_id", "status")}
                events.append(sse("status", {"batch_id": str(batch_id), **data}))
                changed = True
            item = watch.take_queued()
        if changed:
            fresh = await _progress(state, batch_id, total)
            if fresh != progress or events:
                events.append(sse("progress", fresh))
            progress = fresh
        if not events and ticker.keepalive_due():
            events = [": keep-alive\n\n"]
        for e in events:
            ticker.wrote()
            yield e


@router.get(
    "/script-batches/{batch_id}/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def stream_batch(ctx: CurrentCtx, request: Request, batch_id: uuid.UUID) -> StreamingResponse:
    """Progress of a script batch (server-sent events) until every execution is final."""
    async with ctx.read() as s:
        batch = await get_batch(s, ctx.principal, batch_id)
        total = batch.total
    hub = live_hub(request.app)

    async def body() -> AsyncIterator[str]:
        with hub.listen(str(batch_id)) as listener:
            watch = Watch(request, listener)
            try:
                async for chunk in batch_stream(watch, ctx.state, batch_id, total):
                    yield chunk
            finally:
                watch.close()

    return StreamingResponse(body(), media_type="text/event-stream", headers=SSE_HEADERS)
