"""The service loop behind ``breeze-agent run``.

Concurrent loops share one HTTP client:

* heartbeat: every ``heartbeat_interval_seconds`` +-10% a metrics sample goes to the server;
  its answer may carry a ``config_update`` (applied and written back to the config file).
* inventory: a full inventory when the server never got one, otherwise a delta (only the
  sections whose hash changed) at start and then every ``inventory_interval_seconds``;
  SIGUSR1 asks for a check now.
* commands: the envelopes of each heartbeat answer and of the WebSocket
  (``breeze_agent.ws.AgentSocket``, unless ``BREEZE_AGENT_WEBSOCKET=0``) go to one
  ``commands.Dispatcher``, which verifies, runs and reports them.

Failures back off exponentially with jitter; 503/429 wait at least the server's
Retry-After. A 401/403 means the token was revoked (device decommissioned): the agent says
so and exits with ``EXIT_REVOKED`` instead of retrying forever. SIGTERM/SIGINT stop it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from breeze_agent import update, ws
from breeze_agent.collectors import collect_inventory
from breeze_agent.collectors.metrics import DEFAULT_CPU_INTERVAL, heartbeat
from breeze_agent.commands.dispatcher import Dispatcher
from breeze_agent.commands.journal import Journal
from breeze_agent.config import (
    AgentFileConfig,
    effective_intervals,
    journal_path,
    save_config,
    state_path,
)
from breeze_agent.state import AgentState, delta, load_state, save_state, section_hashes
from breeze_agent.timing import Backoff, jittered, retry_after_delay
from breeze_agent.transport import Gateway, Refused, RetryLater, Revoked, TransportError
from breeze_protocol import HeartbeatResponse

log = logging.getLogger("breeze_agent")

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_REVOKED = 3  # token revoked / device decommissioned: do not restart (systemd)
EXIT_NOT_ENROLLED = 4


class Service:
    def __init__(
        self,
        config_path: Path,
        config: AgentFileConfig,
        *,
        cpu_interval: float = DEFAULT_CPU_INTERVAL,
        backoff_base: float = 1.0,
        backoff_cap: float = 300.0,
    ) -> None:
        self.config_path = config_path
        self.config = config
        self.state_path = state_path(config_path)
        self.state: AgentState = load_state(self.state_path)
        self.cpu_interval = cpu_interval
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.exit_code = EXIT_OK
        self.stopping = asyncio.Event()
        self.inventory_now = asyncio.Event()  # SIGUSR1: check the inventory now
        self.replan = asyncio.Event()  # the inventory interval changed
        self.heartbeats_sent = 0
        self.dispatcher: Dispatcher | None = None
        # The inventory loop and a collect_inventory command must not interleave uploads.
        self._inventory_lock = asyncio.Lock()

    # -- lifecycle -------------------------------------------------------------------------

    def stop(self, code: int = EXIT_OK) -> None:
        if code and not self.exit_code:
            self.exit_code = code
        self.stopping.set()

    def _install_signals(self) -> None:
        loop = asyncio.get_running_loop()
        handlers: dict[signal.Signals, Callable[[], None]] = {
            signal.SIGTERM: self._on_stop_signal,
            signal.SIGINT: self._on_stop_signal,
        }
        if hasattr(signal, "SIGUSR1"):
            handlers[signal.SIGUSR1] = self.inventory_now.set
        for sig, handler in handlers.items():
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, handler)

    def _on_stop_signal(self) -> None:
        log.info("stop requested; shutting down")
        self.stop()

    async def run(self, *, signals: bool = True) -> int:
        if signals:
            self._install_signals()
        hb, inv = effective_intervals(self.config)
        log.info(
            "agent %s running against %s (heartbeat %gs, inventory %gs)",
            self.config.agent_id,
            self.config.server_url,
            hb,
            inv,
        )
        async with Gateway(
            self.config.server_url,
            token=self.config.auth_token,
            ca_cert=self.config.ca_cert,
            insecure=self.config.insecure,
        ) as gw:
            self.dispatcher = self._dispatcher(gw)
            loops = [
                asyncio.create_task(self._guard(self._heartbeat_loop, gw), name="heartbeat"),
                asyncio.create_task(self._guard(self._inventory_loop, gw), name="inventory"),
                asyncio.create_task(self._guard(self._command_loop, gw), name="commands"),
                asyncio.create_task(self._guard(self._socket_loop, gw), name="websocket"),
            ]
            try:
                await self.stopping.wait()
            finally:
                # The command loop stops running scripts itself (and spools their results).
                for task in loops[:2] + loops[3:]:
                    task.cancel()
                await asyncio.gather(*loops, return_exceptions=True)
                self._save_state()
        return self.exit_code

    async def _guard(self, loop_fn: Callable[[Gateway], Awaitable[None]], gw: Gateway) -> None:
        try:
            await loop_fn(gw)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s loop crashed; stopping", loop_fn.__name__)
            self.stop(EXIT_ERROR)

    async def _sleep(self, seconds: float, *, wake: tuple[asyncio.Event, ...] = ()) -> None:
        """Sleep, returning early when stopping (or when one of ``wake`` is set)."""
        events = (self.stopping, *wake)
        waiters = [asyncio.ensure_future(e.wait()) for e in events]
        try:
            await asyncio.wait(waiters, timeout=max(0.0, seconds), return_when="FIRST_COMPLETED")
        finally:
            for w in waiters:
                w.cancel()

    def _revoked(self, where: str, exc: Revoked) -> None:
        log.error(
            "the server refused this agent (%s on %s): the device was removed or its token "
            "revoked. Stopping; enroll again with 'breeze-agent enroll' to come back.",
            exc,
            where,
        )
        self.state.heartbeat(False, f"revoked: {exc}")
        self.stop(EXIT_REVOKED)

    def _save_state(self) -> None:
        try:
            save_state(self.state_path, self.state)
        except OSError as exc:
            log.warning("cannot write state file %s: %s", self.state_path, exc)

    # -- heartbeat -------------------------------------------------------------------------

    async def _heartbeat_loop(self, gw: Gateway) -> None:
        backoff = Backoff(self.backoff_base, self.backoff_cap)
        while not self.stopping.is_set():
            started = time.monotonic()
            interval, _ = effective_intervals(self.config)
            try:
                body = await asyncio.to_thread(heartbeat, self.cpu_interval)
                if self.dispatcher is not None and self.dispatcher.pending_reboot():
                    body.pending_reboot = True  # a reboot command or a script's exit 194
                answer, version = await gw.heartbeat(
                    self.config.agent_id, body, self.config.config_version
                )
            except Revoked as exc:
                self._revoked("heartbeat", exc)
                return
            except RetryLater as exc:
                delay = (
                    retry_after_delay(exc.seconds)
                    if exc.seconds is not None
                    else backoff.next_delay()
                )
                log.warning("server busy (%s); next heartbeat in %.1fs", exc, delay)
                self.state.heartbeat(False, f"busy: {exc}; retry after {delay:.1f}s")
            except (TransportError, Refused) as exc:
                delay = backoff.next_delay()
                log.warning("heartbeat failed (%s); retrying in %.1fs", exc, delay)
                self.state.heartbeat(False, f"error: {exc}")
            else:
                backoff.reset()
                self.heartbeats_sent += 1
                self.state.heartbeat(True, "ok")
                self._apply(answer, version)
                await self._take_commands(answer)
                await self._after_heartbeat(gw)
                interval, _ = effective_intervals(self.config)
                delay = jittered(interval) - (time.monotonic() - started)
            self._save_state()
            await self._sleep(delay)

    def _apply(self, answer: HeartbeatResponse, version: int | None) -> None:
        if answer.upgrade_to:
            log.info("server offers agent version %s (upgrades not handled yet)", answer.upgrade_to)
        if answer.config_update is None:
            return
        before = effective_intervals(self.config)
        if not self.config.apply(answer.config_update, version):
            return
        log.info(
            "configuration %s applied: heartbeat %ss, inventory %ss",
            self.config.config_version,
            self.config.heartbeat_interval_seconds,
            self.config.inventory_interval_seconds,
        )
        try:
            save_config(self.config_path, self.config)
        except OSError as exc:
            log.warning("cannot persist the new configuration to %s: %s", self.config_path, exc)
        if effective_intervals(self.config) != before:
            self.replan.set()

    # -- inventory -------------------------------------------------------------------------

    async def _inventory_loop(self, gw: Gateway) -> None:
        backoff = Backoff(self.backoff_base, self.backoff_cap)
        last_check = time.monotonic()
        due = last_check  # at start: full if never sent, else a delta check
        while not self.stopping.is_set():
            now = time.monotonic()
            if now < due:
                await self._sleep(due - now, wake=(self.inventory_now, self.replan))
                if self.inventory_now.is_set():  # SIGUSR1: check now
                    self.inventory_now.clear()
                    due = time.monotonic()
                elif self.replan.is_set():  # a new interval counts from the last check
                    self.replan.clear()
                    due = last_check + effective_intervals(self.config)[1]
                continue
            last_check = time.monotonic()
            try:
                await self._send_inventory(gw)
            except Revoked as exc:
                self._revoked("inventory", exc)
                return
            except RetryLater as exc:
                wait = retry_after_delay(exc.seconds) if exc.seconds else backoff.next_delay()
                log.warning("inventory postponed (%s); retrying in %.1fs", exc, wait)
                due = time.monotonic() + wait
                continue
            except TransportError as exc:
                wait = backoff.next_delay()
                log.warning("inventory upload failed (%s); retrying in %.1fs", exc, wait)
                due = time.monotonic() + wait
                continue
            except Refused as exc:
                log.error("server refused the inventory (%s); a full one goes next time", exc)
                self.state.full_inventory_sent = False
                self._save_state()
            backoff.reset()
            _, interval = effective_intervals(self.config)
            due = last_check + interval

    async def _send_inventory(self, gw: Gateway) -> None:
        async with self._inventory_lock:
            await self._send_inventory_locked(gw)

    async def _send_inventory_locked(self, gw: Gateway) -> None:
        inventory = await asyncio.to_thread(collect_inventory)
        if not self.state.full_inventory_sent:
            await gw.inventory(self.config.agent_id, inventory)
            self.state.full_inventory_sent = True
            self.state.section_hashes = section_hashes(inventory)
            mode = "full"
            log.info("full inventory sent")
        else:
            document, hashes = delta(inventory, self.state.section_hashes)
            if document is None:
                log.debug("inventory unchanged")
                return
            await gw.inventory(self.config.agent_id, document)
            self.state.section_hashes = hashes
            mode = "delta"
            sent = [n for n in hashes if getattr(document, n, None) is not None]
            log.info("inventory delta sent: %s", ", ".join(sent))
        self.state.last_inventory_at = datetime.now(UTC)
        self.state.last_inventory_mode = mode
        self._save_state()

    # -- commands --------------------------------------------------------------------------

    def _dispatcher(self, gw: Gateway) -> Dispatcher:
        return Dispatcher(
            gw=gw,
            config=self.config,
            config_path=self.config_path,
            journal=Journal(journal_path(self.config_path)),
            inventory=lambda: self._inventory_for_command(gw),
            on_revoked=lambda exc: self._revoked("command", exc),
            on_exit=self.stop,
            backoff_base=self.backoff_base,
            backoff_cap=min(self.backoff_cap, 60.0),
        )

    async def _command_loop(self, gw: Gateway) -> None:
        assert self.dispatcher is not None
        self.dispatcher.recover()
        await self.dispatcher.run(self.stopping)

    async def _take_commands(self, answer: HeartbeatResponse) -> None:
        if self.dispatcher is None:
            return
        for envelope in answer.commands:
            await self.dispatcher.submit(envelope)

    async def _after_heartbeat(self, gw: Gateway) -> None:
        try:
            await update.after_heartbeat(gw, self.config, self.config_path)
        except Exception:  # never let the update bookkeeping stop the heartbeat
            log.exception("update check after the heartbeat failed")

    async def _socket_loop(self, gw: Gateway) -> None:
        if not ws.websocket_enabled() or self.dispatcher is None:
            return
        socket = ws.AgentSocket(
            self.config.server_url,
            self.config.agent_id,
            self.config.auth_token,
            on_command=self.dispatcher.submit,
            ca_cert=self.config.ca_cert,
            insecure=self.config.insecure,
            backoff_base=self.backoff_base,
            backoff_cap=min(self.backoff_cap, 60.0),
        )
        self.dispatcher.socket = socket
        try:
            await socket.run(self.stopping)
        finally:
            self.dispatcher.socket = None
        if socket.revoked and not self.stopping.is_set():
            # A server without the WebSocket route answers the handshake 403 as well, so the
            # socket alone does not end the agent: the next heartbeat gets the same 401/403
            # for a revoked token and stops it (EXIT_REVOKED); otherwise heartbeats go on.
            log.warning(
                "the WebSocket refused this agent; the next heartbeat confirms (a revoked "
                "token stops the agent) and commands keep arriving with heartbeats meanwhile"
            )

    async def _inventory_for_command(self, gw: Gateway) -> str:
        """collect_inventory: a full upload now, whatever was sent before."""
        async with self._inventory_lock:
            self.state.full_inventory_sent = False
            await self._send_inventory_locked(gw)
        hashes = self.state.section_hashes
        return f"full inventory sent ({len(hashes)} sections: {', '.join(sorted(hashes))})\n"
