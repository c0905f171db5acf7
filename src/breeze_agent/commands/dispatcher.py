"""One place where every command envelope goes, from the heartbeat answer or the WebSocket.

``submit`` verifies (``verify``), deduplicates by command id (a repeat of a running or
queued command is ignored; of a finished one re-posts its result) and queues. Up to
``max_concurrent`` workers take commands in arrival order: ack, run, stream output, store
the result in the journal, post it (acks and results over the WebSocket when the server
takes them there, see ``reports``). Results wait in the journal until the server accepted
them, so a restart or an unreachable server never loses one. ``cancel`` envelopes stop the
named command (queued: never starts; running: its process tree is killed).

At start (``recover``) the journal is replayed: a reboot/shutdown whose boot id changed is
reported done, a command that was running when the agent died is reported failed, and a
command received but not started is queued again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from pydantic import ValidationError

from breeze_agent import update
from breeze_agent.commands import power, reports, verify
from breeze_agent.commands.journal import Journal, PowerRecord
from breeze_agent.commands.output import OutputStream
from breeze_agent.commands.runners.script import KILL_GRACE_SECONDS, StopReason, run_script
from breeze_agent.config import AgentFileConfig
from breeze_agent.timing import Backoff
from breeze_agent.transport import Gateway, Refused, Revoked, TransportError
from breeze_protocol import CommandAck, CommandEnvelope, CommandResult, OutputBatch
from breeze_protocol.commands import CancelPayload, OutputChunk, PowerPayload, ScriptPayload

log = logging.getLogger(__name__)

MAX_CONCURRENT = 4
ACK_ATTEMPTS = 3
POST_EVERY_SECONDS = 30.0  # unposted results are retried at least this often
CANCEL_HOLD_SECONDS = 7 * 86_400  # how long a cancel for an unseen command is remembered


class OutputSocket(reports.ReportSocket, Protocol):
    """What the dispatcher needs of ``breeze_agent.ws.AgentSocket``."""

    async def send_output(self, chunks: list[OutputChunk]) -> bool: ...


@dataclass
class _Running:
    type: str
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    reason: StopReason = "cancelled"


class Dispatcher:
    def __init__(
        self,
        *,
        gw: Gateway,
        config: AgentFileConfig,
        config_path: Path,
        journal: Journal,
        inventory: Callable[[], Awaitable[str]] | None = None,
        on_revoked: Callable[[Revoked], None] | None = None,
        on_exit: Callable[[int], None] | None = None,
        max_concurrent: int = MAX_CONCURRENT,
        backoff_base: float = 1.0,
        backoff_cap: float = 60.0,
    ) -> None:
        self.gw = gw
        self.config = config
        self.config_path = config_path
        self.journal = journal
        self.inventory = inventory
        self.on_revoked = on_revoked
        self.on_exit = on_exit
        self.max_concurrent = max_concurrent
        self.socket: OutputSocket | None = None
        self._backoff = (backoff_base, backoff_cap)
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._queued: dict[str, CommandEnvelope] = {}
        self._running: dict[str, _Running] = {}
        self._results = asyncio.Event()  # something waits in the outbox
        self._idle = asyncio.Event()  # no script runs

    @property
    def agent_id(self) -> str:
        return self.config.agent_id

    # -- intake ----------------------------------------------------------------------------

    async def submit(self, envelope: CommandEnvelope) -> None:
        """Verify and queue one envelope; never raises, never blocks on the command."""
        try:
            self._submit(envelope, time.time())
        except Exception:
            log.exception("command %s could not be taken", envelope.id)

    def _submit(self, envelope: CommandEnvelope, now: float) -> None:
        reason = verify.authentic(envelope, self.config.command_public_key, self.agent_id)
        if envelope.type == "cancel":
            if reason is None and envelope.expires_at < now:
                reason = verify.expired(envelope, now)
            self._submit_cancel(envelope, reason)
            return
        if reason is not None:
            self._refuse(envelope, reason)
            return
        entry = self.journal.get(envelope.id)
        if entry is not None:  # a repeat delivery of a command we know
            if entry.state == "done" and entry.result is not None:
                log.info("command %s delivered again; re-posting its result", envelope.id)
                entry.posted = False
                self.journal.save()
                self._results.set()
            else:
                log.debug("command %s delivered again while %s; ignored", envelope.id, entry.state)
            return
        reason = verify.fresh(envelope, self.journal, now)
        if reason is not None:
            self._refuse(envelope, reason)
            return
        self.journal.accept(envelope)
        self._enqueue(envelope)

    def _enqueue(self, envelope: CommandEnvelope) -> None:
        log.info("command %s (%s) queued", envelope.id, envelope.type)
        self._queued[envelope.id] = envelope
        self._queue.put_nowait(envelope.id)

    def _refuse(self, envelope: CommandEnvelope, reason: str) -> None:
        log.warning("refused command %s (%s): %s", envelope.id, envelope.type, reason)
        if self.journal.get(envelope.id) is not None:
            return  # a forged copy of a real command must not overwrite the real outcome
        self.journal.refuse(envelope.id, CommandResult(status="failed", error=f"refused: {reason}"))
        self._results.set()

    def _submit_cancel(self, envelope: CommandEnvelope, reason: str | None) -> None:
        # A refused cancel is only logged: its id may be the target's, whose result it
        # must not overwrite. A genuine cancel seen before (the server repeats it every
        # beat until the command's result arrives) is applied again: cancelling is
        # idempotent, and a repeat re-posts the result the server still waits for.
        if reason is not None:
            log.warning("refused cancel %s: %s", envelope.id, reason)
            return
        try:
            target = CancelPayload.model_validate(envelope.payload).command_id
        except ValidationError as exc:
            log.warning("cancel %s has an invalid payload: %s", envelope.id, exc)
            return
        if not self.journal.nonce_seen(envelope.nonce):
            self.journal.accept(envelope)  # records the nonce only
        self.cancel(target)

    def cancel(self, command_id: str) -> None:
        """Stop ``command_id``: before it starts, or by killing its process tree."""
        if self._queued.pop(command_id, None) is not None:
            log.info("command %s cancelled before it started", command_id)
            result = CommandResult(status="cancelled", error="cancelled before it started")
            self.journal.finish(command_id, "script", result)
            self._results.set()
            return
        running = self._running.get(command_id)
        if running is not None:
            log.info("cancelling running command %s", command_id)
            running.reason = "cancelled"
            running.stop.set()
            return
        entry = self.journal.get(command_id)
        if entry is None:
            log.info("command %s cancelled before it reached this agent", command_id)
            result = CommandResult(
                status="cancelled", error="cancelled before it reached the agent"
            )
            hold = int(time.time()) + CANCEL_HOLD_SECONDS
            self.journal.finish(command_id, "unknown", result, expires_at=hold)
            self._results.set()
        elif entry.state == "done":
            entry.posted = False  # the server still waits for it: say again how it ended
            self.journal.save()
            self._results.set()
        else:
            log.info("command %s (%s) cannot be cancelled any more", command_id, entry.state)

    # -- the loops -------------------------------------------------------------------------

    def recover(self) -> None:
        """Settle what the journal says happened before this start (see module doc)."""
        self.journal.prune()
        now = time.time()
        for entry in self.journal.entries("running"):
            if entry.power is not None:
                self._settle_power(entry.id, entry.type, entry.power, now)
            else:
                error = "interrupted: the agent stopped while the command was running"
                self.journal.finish(
                    entry.id, entry.type, CommandResult(status="failed", error=error)
                )
        for entry in self.journal.entries("queued"):
            if entry.envelope is None:
                continue
            if entry.expires_at < now:
                self._finish_expired(entry.envelope)
            else:
                self._enqueue(entry.envelope)
        if self.journal.outbox():
            self._results.set()

    def _settle_power(self, command_id: str, type_: str, record: PowerRecord, now: float) -> None:
        current = power.boot_id()
        if current != record.boot_id:
            log.info("the device restarted after %s %s", type_, command_id)
            result = CommandResult(
                status="completed",
                rebooted=type_ == "reboot",
                details={"boot_id": current, "previous_boot_id": record.boot_id},
            )
            self.journal.finish(command_id, type_, result)
        elif now > record.requested_at + record.delay_seconds + power.REBOOT_OVERDUE_SECONDS:
            error = f"the device did not {'restart' if type_ == 'reboot' else 'shut down'}"
            self.journal.finish(command_id, type_, CommandResult(status="failed", error=error))

    async def run(self, stopping: asyncio.Event) -> None:
        """Workers and the result poster, until ``stopping``; then stop what still runs."""
        workers = [
            asyncio.create_task(self._worker(), name=f"command-worker-{i}")
            for i in range(self.max_concurrent)
        ]
        poster = asyncio.create_task(self._poster(stopping), name="command-results")
        try:
            await stopping.wait()
        finally:
            for running in self._running.values():
                running.reason = "stopping"
                running.stop.set()
            # Scripts stop (their results are spooled); leave time for the kill.
            if self._running:
                self._idle.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._idle.wait(), KILL_GRACE_SECONDS + 2)
            for task in (*workers, poster):
                task.cancel()
            await asyncio.gather(*workers, poster, return_exceptions=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.post_results(), 3.0)

    async def _worker(self) -> None:
        while True:
            command_id = await self._queue.get()
            envelope = self._queued.pop(command_id, None)
            if envelope is None:
                continue  # cancelled while it waited
            try:
                await self._execute(envelope)
            except asyncio.CancelledError:
                raise
            except Revoked as exc:
                self._revoked(exc)
            except Exception as exc:
                log.exception("command %s crashed", command_id)
                result = CommandResult(status="failed", error=f"agent error: {exc}"[:2000])
                self._finish(envelope, result)

    async def _poster(self, stopping: asyncio.Event) -> None:
        backoff = Backoff(*self._backoff)
        while not stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._results.wait(), POST_EVERY_SECONDS)
            self._results.clear()
            try:
                await self.post_results()
            except Revoked as exc:
                self._revoked(exc)
                return
            except TransportError as exc:
                delay = backoff.next_delay()
                log.warning("cannot post command results (%s); retrying in %.1fs", exc, delay)
                self._results.set()
                await asyncio.sleep(delay)
            else:
                backoff.reset()
                self.journal.prune()

    async def post_results(self) -> None:
        """Post every result the server has not accepted yet; TransportError stops early."""
        for command_id, result, refusal in self.journal.outbox():
            try:
                await reports.send_result(self.gw, self.socket, self.agent_id, command_id, result)
            except Refused as exc:  # never accepted as sent: do not retry it forever
                log.warning("server refused the result of %s: %s", command_id, exc)
                await self._post_refusal_notice(command_id, result, exc)
            else:
                log.info("result of %s posted (%s)", command_id, result.status)
            self.journal.posted(command_id, refusal=refusal)

    async def _post_refusal_notice(
        self, command_id: str, result: CommandResult, exc: Refused
    ) -> None:
        """A result the server refused (malformed, too large) still ends the command: post
        its outcome without the output and say why, rather than let it time out unexplained.
        An unknown command (404) has nothing to end."""
        if exc.status not in (413, 422):
            return
        notice = CommandResult(
            status="failed" if result.status == "completed" else result.status,
            exit_code=result.exit_code,
            duration_ms=result.duration_ms,
            error=f"the server refused this command's result ({exc})"[:2000],
        )
        try:
            await reports.send_result(self.gw, self.socket, self.agent_id, command_id, notice)
        except Refused as again:
            log.warning("server refused the notice for %s too: %s", command_id, again)

    def _revoked(self, exc: Revoked) -> None:
        if self.on_revoked is not None:
            self.on_revoked(exc)

    # -- execution -------------------------------------------------------------------------

    def _finish(self, envelope: CommandEnvelope, result: CommandResult) -> None:
        if result.pending_reboot:
            self.journal.data.reboot_required_on = power.boot_id()
        self.journal.finish(envelope.id, envelope.type, result)
        self._results.set()

    def pending_reboot(self) -> bool:
        """For the heartbeat: a reboot is under way, or a script asked for one this boot."""
        data = self.journal.data
        if data.reboot_required_on is not None:
            if data.reboot_required_on == power.boot_id():
                return True
            data.reboot_required_on = None
            self.journal.save()
        return any(
            e.type == "reboot" and e.power is not None for e in self.journal.entries("running")
        )

    def _finish_expired(self, envelope: CommandEnvelope) -> None:
        error = f"refused: {verify.expired(envelope, time.time())} before it could start"
        self._finish(envelope, CommandResult(status="failed", error=error))

    async def _ack(self, envelope: CommandEnvelope, *, pending_reboot: bool = False) -> bool:
        """Tell the server it starts; False when the server says it must not."""
        ack = CommandAck(pending_reboot=pending_reboot)
        for attempt in range(ACK_ATTEMPTS):
            try:
                await reports.send_ack(self.gw, self.socket, self.agent_id, envelope.id, ack)
                return True
            except Refused as exc:
                log.warning("server refused to start %s: %s", envelope.id, exc)
                error = f"the server refused to start it: {exc}"
                self.journal.finish(
                    envelope.id, envelope.type, CommandResult(status="failed", error=error)
                )
                self.journal.posted(envelope.id, refusal=False)  # the server knows already
                return False
            except Revoked:
                raise
            except TransportError as exc:
                log.warning("ack of %s failed (%s)", envelope.id, exc)
                await asyncio.sleep(0.5 * 2**attempt)
        return True  # run anyway: it was delivered, and the result will say how it went

    async def _execute(self, envelope: CommandEnvelope) -> None:
        if envelope.expires_at < time.time():
            self._finish_expired(envelope)
            return
        kind = envelope.type
        if kind == "script":
            await self._run_script(envelope)
        elif kind == "collect_inventory":
            await self._run_inventory(envelope)
        elif kind in ("reboot", "shutdown"):
            await self._run_power(envelope)
        elif kind == "update_agent":
            await self._run_update(envelope)
        else:
            error = f"unknown command type {kind!r}"
            self._finish(envelope, CommandResult(status="failed", error=error))

    async def _run_script(self, envelope: CommandEnvelope) -> None:
        try:
            payload = ScriptPayload.model_validate(envelope.payload)
        except ValidationError as exc:
            error = f"invalid script payload: {exc}"[:2000]
            self._finish(envelope, CommandResult(status="failed", error=error))
            return
        if not await self._ack(envelope):
            return
        running = self._running[envelope.id] = _Running(envelope.type)
        self.journal.set_state(envelope.id, "running")
        stream = OutputStream(envelope.id, self._send_output)
        stream.start()
        result: CommandResult | None = None
        try:
            result = await run_script(
                payload,
                on_output=stream.write,
                stop=running.stop,
                stop_reason=lambda: running.reason,
            )
            log.info(
                "command %s finished: %s (exit %s)", envelope.id, result.status, result.exit_code
            )
        except asyncio.CancelledError:
            error = "stopped: the agent is shutting down"
            result = CommandResult(status="failed", error=error)
            raise
        finally:
            self._running.pop(envelope.id, None)
            try:
                # The last output goes before the result; a cancel here must not lose it.
                with contextlib.suppress(Exception):
                    await asyncio.shield(stream.close())
            finally:
                if result is not None:
                    self._finish(envelope, result)
                if not self._running:
                    self._idle.set()

    async def _send_output(self, chunks: list[OutputChunk]) -> None:
        socket = self.socket
        if socket is not None and socket.connected and await socket.send_output(chunks):
            return
        await self.gw.output(self.agent_id, chunks[0].command_id, OutputBatch(chunks=chunks))

    async def _run_inventory(self, envelope: CommandEnvelope) -> None:
        if not await self._ack(envelope):
            return
        self.journal.set_state(envelope.id, "running")
        started = time.monotonic()
        if self.inventory is None:
            result = CommandResult(status="failed", error="inventory is not available here")
        else:
            try:
                summary = await self.inventory()
            except (TransportError, Refused) as exc:
                if isinstance(exc, Revoked):
                    raise
                result = CommandResult(status="failed", error=f"inventory upload failed: {exc}")
            else:
                result = CommandResult(status="completed", stdout=summary)
        result.duration_ms = int((time.monotonic() - started) * 1000)
        self._finish(envelope, result)

    async def _run_power(self, envelope: CommandEnvelope) -> None:
        kind: power.PowerKind = "reboot" if envelope.type == "reboot" else "shutdown"
        try:
            payload = PowerPayload.model_validate(envelope.payload)
        except ValidationError as exc:
            error = f"invalid {kind} payload: {exc}"[:2000]
            self._finish(envelope, CommandResult(status="failed", error=error))
            return
        if not await self._ack(envelope, pending_reboot=True):
            return
        record = PowerRecord(
            boot_id=power.boot_id(), requested_at=time.time(), delay_seconds=payload.delay_seconds
        )
        # Recorded before the action: the agent may not live to write anything after it.
        self.journal.set_state(envelope.id, "running", power=record)
        try:
            await power.start_power_action(kind, payload)
        except power.PowerError as exc:
            self._finish(envelope, CommandResult(status="failed", error=str(exc)))
            return
        log.info("%s started (command %s); waiting for the device to go down", kind, envelope.id)

    async def _run_update(self, envelope: CommandEnvelope) -> None:
        if not await self._ack(envelope):
            return
        self.journal.set_state(envelope.id, "running")
        result = await update.handle_update(self.gw, self.config, self.config_path, envelope)
        if result is None:
            # The new version reports this command once it runs (update.after_heartbeat).
            self.journal.set_state(envelope.id, "handed_off")
            if self.on_exit is not None:
                self.on_exit(update.EXIT_UPDATE)
            return
        self._finish(envelope, result)
