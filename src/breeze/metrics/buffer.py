"""The heartbeat buffer (ARCHITECTURE rule 5): no database write per heartbeat.

A heartbeat is checked, stamped and appended to a bounded in-process buffer; the
agent is answered at once. One flusher task per server process writes everything
buffered in one transaction at least every `metrics.flush_interval_seconds` (<= 1 s),
sooner when the buffer is half full: the raw samples as multi-row INSERTs and each
device's last-seen state through `devices.presence.apply_heartbeats`. `device.online`
events for revived devices are published after commit.

Guarantees and limits:
- Bounded: rows waiting plus rows being written never exceed `buffer_max_rows`; past
  that `offer()` refuses and the agent gets 503 + Retry-After. Nothing is dropped
  silently.
- A failed flush (database down, lock timeout) puts its rows back in front, in order,
  for the next attempt. Only a beat the database refuses on its own (a data error
  that survives the request-time checks of `check_heartbeat`) is logged and set
  aside, so that one bad row cannot block every agent forever.
- Lifecycle: the buffer is made and its flusher started by the metrics router's
  lifespan (FastAPI merges router lifespans into the app's, inside it: the
  database is open before and still open after). On shutdown uvicorn first drains
  in-flight requests, then the buffer is flushed (three attempts) before the
  database is closed. A crash (SIGKILL, power loss) loses at most the rows of the
  last flush interval, which the agents had been told were accepted.
- Per process: with several server replicas each has its own buffer; sample
  timestamps are the receiving server's clock, made strictly increasing per device
  within a process so two beats of one device never share a primary key.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import null
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError

from breeze.core.bus import Bus
from breeze.core.errors import InvalidInput
from breeze.core.state import AppState
from breeze.db.base import utcnow
from breeze.db.engine import Database
from breeze.devices.presence import PresenceChange, apply_heartbeats
from breeze.metrics.storage import insert_samples
from breeze.settings import MetricsSettings
from breeze_protocol.metrics import HeartbeatRequest

log = logging.getLogger("breeze.metrics.buffer")
MAX_INT = 2**31 - 1
MAX_BIGINT = 2**63 - 1
MAX_CUSTOM_KEYS = 100
MAX_CUSTOM_KEY_LENGTH = 100
MAX_CUSTOM_TEXT = 1000
ONE_MICROSECOND = timedelta(microseconds=1)
CLOSE_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class Beat:
    """One accepted heartbeat, waiting to be written."""

    device_id: uuid.UUID
    partner_id: uuid.UUID
    org_id: uuid.UUID
    received_at: datetime
    agent_version: str
    pending_reboot: bool
    last_user: str | None
    uptime_seconds: int
    sample: dict[str, Any]


def _text(value: str, field: str, limit: int) -> None:
    if "\x00" in value:
        raise InvalidInput("text must not contain NUL characters", field=field)
    try:
        value.encode()
    except UnicodeEncodeError:
        raise InvalidInput("text must be valid Unicode (no lone surrogates)", field=field) from None
    if len(value) > limit:
        raise InvalidInput(f"at most {limit} characters", field=field)


def _number(value: float | int | None, field: str, limit: int = MAX_BIGINT) -> None:
    if value is None:
        return
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidInput("must be a finite number", field=field)
    if abs(value) > limit:
        raise InvalidInput(f"must be at most {limit}", field=field)


def check_heartbeat(body: HeartbeatRequest) -> None:
    """Refuse at request time (422, naming the field) what the database would refuse at
    flush time: a flush must never fail on data."""
    _text(body.agent_version, "agent_version", 50)
    if body.last_user is not None:
        _text(body.last_user, "last_user", 255)
    _number(body.uptime_seconds, "uptime_seconds")
    m = body.metrics
    for name in ("ram_used_mb", "network_in_bytes", "network_out_bytes"):
        _number(getattr(m, name), f"metrics.{name}")
    _number(m.process_count, "metrics.process_count", MAX_INT)
    _number(m.disk_used_gb, "metrics.disk_used_gb", MAX_BIGINT)
    if len(m.custom) > MAX_CUSTOM_KEYS:
        raise InvalidInput(f"at most {MAX_CUSTOM_KEYS} custom metrics", field="metrics.custom")
    for key, value in m.custom.items():
        _text(key, "metrics.custom", MAX_CUSTOM_KEY_LENGTH)
        if isinstance(value, str):
            _text(value, f"metrics.custom.{key}", MAX_CUSTOM_TEXT)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            _number(value, f"metrics.custom.{key}", MAX_BIGINT)


def _sample(device_id: uuid.UUID, at: datetime, body: HeartbeatRequest) -> dict[str, Any]:
    m = body.metrics
    return {
        "device_id": device_id,
        "timestamp": at,
        "cpu_percent": m.cpu_percent,
        "ram_percent": m.ram_percent,
        "ram_used_mb": m.ram_used_mb,
        "disk_percent": m.disk_percent,
        "disk_used_gb": m.disk_used_gb,
        "network_in_bytes": m.network_in_bytes,
        "network_out_bytes": m.network_out_bytes,
        "process_count": m.process_count,
        "custom": dict(m.custom) or null(),  # SQL NULL, not JSON null
    }


def _data_fault(exc: Exception) -> bool:
    """The database refused the rows themselves (not a connection or lock problem)."""
    if isinstance(exc, DataError | IntegrityError):
        return True
    return isinstance(exc, StatementError) and not isinstance(exc, DBAPIError)


class MetricsBuffer:
    def __init__(self, db: Database, bus: Bus, settings: MetricsSettings) -> None:
        self._db = db
        self._bus = bus
        self._max_rows = settings.buffer_max_rows
        self._interval = settings.flush_interval_seconds
        self._pending: list[Beat] = []
        self._inflight = 0
        self._last_stamp: dict[uuid.UUID, datetime] = {}
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.accepted = 0
        self.refused = 0
        self.stored = 0
        self.failed_flushes = 0
        self.set_aside = 0

    @property
    def size(self) -> int:
        """Rows held: waiting plus being written."""
        return len(self._pending) + self._inflight

    def offer(
        self,
        *,
        device_id: uuid.UUID,
        partner_id: uuid.UUID,
        org_id: uuid.UUID,
        body: HeartbeatRequest,
    ) -> bool:
        """Take a checked heartbeat; False when full (or closing): answer 503."""
        if self._closing or self.size >= self._max_rows:
            self.refused += 1
            return False
        now = utcnow()
        last = self._last_stamp.get(device_id)
        if last is not None and now <= last:
            now = last + ONE_MICROSECOND
        self._last_stamp[device_id] = now
        self._pending.append(
            Beat(
                device_id=device_id,
                partner_id=partner_id,
                org_id=org_id,
                received_at=now,
                agent_version=body.agent_version,
                pending_reboot=body.pending_reboot,
                last_user=body.last_user,
                uptime_seconds=body.uptime_seconds,
                sample=_sample(device_id, now, body),
            )
        )
        self.accepted += 1
        if len(self._pending) * 2 >= self._max_rows:
            self._wake.set()
        self.start()
        return True

    def start(self) -> None:
        """Start the flusher on the running loop (again, if it ever stopped)."""
        if self._closing or (self._task is not None and not self._task.done()):
            return
        self._task = asyncio.get_running_loop().create_task(
            self._run(), name="metrics-buffer-flusher"
        )

    async def _run(self) -> None:
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()
            await self.flush()

    async def flush(self) -> int:
        """Write everything buffered now; returns the rows stored."""
        async with self._lock:
            if not self._pending:
                return 0
            batch, self._pending = self._pending, []
            self._inflight = len(batch)
            try:
                stored, changes = await self._store(batch)
            finally:
                self._inflight = 0
            self._forget_old_stamps()
        for change in changes:
            try:
                await self._bus.publish("device.online", change.event())
            except Exception:
                log.exception("could not publish device.online for %s", change.device_id)
        return stored

    async def _store(self, batch: list[Beat]) -> tuple[int, list[PresenceChange]]:
        try:
            changes = await self._write(batch)
        except asyncio.CancelledError:
            self._pending[:0] = batch
            raise
        except Exception as exc:
            if not _data_fault(exc):
                self.failed_flushes += 1
                log.warning("heartbeat flush of %d rows failed (%s); retrying", len(batch), exc)
                self._pending[:0] = batch
                return 0, []
            return await self._store_one_by_one(batch)
        self.stored += len(batch)
        return len(batch), changes

    async def _store_one_by_one(self, batch: list[Beat]) -> tuple[int, list[PresenceChange]]:
        """A data error: write beat by beat so that only the refused ones are set aside."""
        stored, changes = 0, []
        for index, beat in enumerate(batch):
            try:
                changes += await self._write([beat])
                stored += 1
            except Exception as exc:
                if not _data_fault(exc):
                    self.failed_flushes += 1
                    self._pending[:0] = batch[index:]
                    break
                self.set_aside += 1
                log.error(
                    "heartbeat of device %s refused by the database and set aside: %s sample=%r",
                    beat.device_id,
                    exc,
                    beat.sample,
                )
        self.stored += stored
        return stored, changes

    async def _write(self, batch: Sequence[Beat]) -> list[PresenceChange]:
        async with self._db.write() as uow:
            await insert_samples(uow.session, [b.sample for b in batch])
            revived = await apply_heartbeats(uow.session, batch)
        latest = {b.device_id: b for b in batch}
        return [
            PresenceChange(
                device_id=device_id,
                org_id=latest[device_id].org_id,
                partner_id=latest[device_id].partner_id,
                last_seen_at=latest[device_id].received_at,
            )
            for device_id in revived
        ]

    def _forget_old_stamps(self) -> None:
        if len(self._last_stamp) <= 2 * self._max_rows:
            return
        horizon = utcnow() - timedelta(seconds=5)
        self._last_stamp = {k: v for k, v in self._last_stamp.items() if v > horizon}

    async def close(self) -> None:
        """Stop the flusher and write what remains (a few attempts)."""
        self._closing = True
        if self.size:
            log.info("writing %d buffered heartbeat rows before shutdown", self.size)
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for attempt in range(CLOSE_ATTEMPTS):
            await self.flush()
            if not self._pending:
                return
            if attempt + 1 < CLOSE_ATTEMPTS:
                await asyncio.sleep(0.5)
        log.error(
            "shutting down with %d heartbeat rows that could not be stored", len(self._pending)
        )


def buffer_of(app: Any) -> MetricsBuffer:
    """The app's buffer; made (and its flusher started) here if the lifespan did not."""
    buffer: MetricsBuffer | None = getattr(app.state, "metrics_buffer", None)
    if buffer is None:
        state: AppState = app.state.breeze
        buffer = MetricsBuffer(state.db, state.bus, state.settings.metrics)
        app.state.metrics_buffer = buffer
    return buffer


@asynccontextmanager
async def buffer_lifespan(app: Any) -> AsyncIterator[None]:
    """Router lifespan: runs inside the app's, after the database is open."""
    buffer = buffer_of(app)
    buffer.start()
    try:
        yield
    finally:
        await buffer.close()
