"""Acks and results that agents send over their WebSockets, stored in batches.

After a broadcast every agent reports twice (ack, then result) within a second or two. As
HTTP requests that is a connection, a token lookup and a transaction each, twenty
thousand of them for ten thousand agents. Over the socket the agent is already known, and
the reports that arrive while one batch is being stored are stored together by the next
(group commit): one transaction per batch (``ingest.ack_commands`` /
``ingest.result_commands``).

Every report is answered with a ``WsReceipt`` once its transaction has committed, so the
agent keeps its copy until then; a report that was never answered (socket lost, server
stopped) is sent again or POSTed by the agent, and ingest is idempotent. When a batch
fails as a whole (say a database error), its reports are tried one by one so one bad
report cannot take the others with it; what still fails is answered 503 ("not stored,
send it again later"). Past ``MAX_WAITING`` queued reports the server answers 503 at once
rather than holding an unbounded queue.

While a batch is being handed to the sockets (`held`), reports are queued but not stored:
the agents that got their frame first report at once, and storing their reports (a
transaction and up to 500 receipts a batch) between the hand-over's turns kept the last
agents of a 10,000-device broadcast waiting longer for theirs (bench/README.md, tenth
round). They are stored together once the hand-over ends, under half a second later.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter
from pydantic import ValidationError

from breeze.commands import ingest
from breeze.core.errors import BreezeError
from breeze.core.state import AppState
from breeze_protocol.commands import ReportKind, WsAck, WsReceipt, WsResult

log = logging.getLogger("breeze.commands.reports")

REPORT_BATCH = 500  # reports per transaction
MAX_WAITING = 50_000  # queued reports (of every socket of this process) before 503s
BUSY = "the server is busy; send it again later"

STORED = Counter(
    "breeze_agent_ws_reports_total",
    "Acks and results received over agent WebSockets, by kind and receipt status",
    ["kind", "status"],
)

Reply = Callable[[WsReceipt], None]
Report = ingest.AckReport | ingest.ResultReport
REPORT_FRAMES = ("ack", "result")


@dataclass(eq=False)
class Waiting:
    """One report waiting for its batch."""

    kind: ReportKind
    report: Report
    reply: Reply


def parse(frame: dict[str, Any], device_id: uuid.UUID) -> Waiting | WsReceipt:
    """A report frame (``type`` ack or result) from the socket of `device_id`, with a reply
    still to set; or the receipt that refuses it (422)."""
    kind: ReportKind = "ack" if frame.get("type") == "ack" else "result"
    raw_id = frame.get("command_id")
    try:
        if kind == "ack":
            ack = WsAck.model_validate(frame)
            report: Report = ingest.AckReport(device_id, uuid.UUID(ack.command_id), ack.ack)
        else:
            result = WsResult.model_validate(frame)
            report = ingest.ResultReport(device_id, uuid.UUID(result.command_id), result.result)
    except (ValidationError, ValueError) as exc:
        command_id = raw_id[:64] if isinstance(raw_id, str) else ""
        error = f"invalid {kind}: {exc}"[:2000]
        return WsReceipt(kind=kind, command_id=command_id, status=422, error=error)
    return Waiting(kind, report, _unset)


def _unset(receipt: WsReceipt) -> None:
    raise RuntimeError("a report was queued without a way to answer it")


class ReportQueue:
    """The reports of this process's sockets, stored one batch at a time."""

    def __init__(
        self, state: AppState, batch: int = REPORT_BATCH, limit: int = MAX_WAITING
    ) -> None:
        self.state = state
        self.batch = batch
        self.limit = limit
        self._waiting: dict[ReportKind, deque[Waiting]] = {"ack": deque(), "result": deque()}
        self._runner: asyncio.Task[None] | None = None
        self._holds = 0
        self._released = asyncio.Event()
        self._released.set()

    def __len__(self) -> int:
        return sum(len(q) for q in self._waiting.values())

    def submit(self, item: Waiting) -> None:
        """Queue a report; it is answered once stored (or at once, 503, when too many wait)."""
        if len(self) >= self.limit:
            _answer(item, BreezeError(BUSY), busy=True)
            return
        self._waiting[item.kind].append(item)
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._run(), name="agent-ws-reports")

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """Store nothing while the block runs (reports keep queueing; a batch already in
        its transaction finishes); the queue resumes when the last overlapping block
        ends."""
        self._holds += 1
        self._released.clear()
        try:
            yield
        finally:
            self._holds -= 1
            if not self._holds:
                self._released.set()

    async def stop(self) -> None:
        """Stop storing; what waits is dropped unanswered (its agents send it again)."""
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
        for queue in self._waiting.values():
            queue.clear()

    async def _run(self) -> None:
        await asyncio.sleep(0)  # let reports read in the same loop turn join this batch
        while len(self):
            await self._released.wait()
            # Acks first: a result waiting behind its own ack must not be stored before it.
            for kind in ("ack", "result"):
                queue = self._waiting[kind]
                if queue:
                    items = [queue.popleft() for _ in range(min(self.batch, len(queue)))]
                    await self._store(kind, items)

    async def _store(self, kind: ReportKind, items: list[Waiting], alone: bool = True) -> None:
        try:
            outcomes = await self._ingest(kind, items)
        except Exception as exc:
            if len(items) > 1:
                log.exception("storing %d agent %ss failed; trying each alone", len(items), kind)
                for item in items:
                    await self._store(kind, [item], alone=False)
            elif alone:
                log.exception("storing an agent's %s failed", kind)
            else:  # the batch's traceback is logged already; one line each, not hundreds
                command_id = items[0].report.command_id
                log.warning("storing the %s of %s failed too: %r", kind, command_id, exc)
            if len(items) == 1:
                _answer(items[0], BreezeError(BUSY), busy=True)
            return
        for item, outcome in zip(items, outcomes, strict=True):
            _answer(item, outcome)

    async def _ingest(self, kind: ReportKind, items: Sequence[Waiting]) -> list[ingest.Outcome]:
        if kind == "ack":
            acks = [i.report for i in items if isinstance(i.report, ingest.AckReport)]
            return await ingest.ack_commands(self.state, acks)
        results = [i.report for i in items if isinstance(i.report, ingest.ResultReport)]
        return await ingest.result_commands(self.state, results)


def _answer(item: Waiting, outcome: BreezeError | None, *, busy: bool = False) -> None:
    if outcome is None:
        status, error = 204, None
    else:
        status, error = (503 if busy else outcome.status), outcome.detail[:2000]
    STORED.labels(item.kind, str(status)).inc()
    receipt = WsReceipt(
        kind=item.kind, command_id=str(item.report.command_id), status=status, error=error
    )
    try:
        item.reply(receipt)
    except Exception:  # the socket is gone: the agent sends the report again
        log.debug("receipt for %s not sent", item.report.command_id, exc_info=True)
