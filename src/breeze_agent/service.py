"""The service loop behind ``breeze-agent run``.

Two concurrent loops share one HTTP client:

* heartbeat: every ``heartbeat_interval_seconds`` +-10% a metrics sample goes to the server;
  its answer may carry a ``config_update`` (applied and written back to the config file).
* inventory: a full inventory when the server never got one, otherwise a delta (only the
  sections whose hash changed) at start and then every ``inventory_interval_seconds``;
  SIGUSR1 asks for a check now.

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

from breeze_agent.collectors import collect_inventory
from breeze_agent.collectors.metrics import DEFAULT_CPU_INTERVAL, heartbeat
from breeze_agent.config import AgentFileConfig, effective_intervals, save_config, state_path
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
            loops = [
                asyncio.create_task(self._guard(self._heartbeat_loop, gw), name="heartbeat"),
                asyncio.create_task(self._guard(self._inventory_loop, gw), name="inventory"),
            ]
            try:
                await self.stopping.wait()
            finally:
                for task in loops:
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
                interval, _ = effective_intervals(self.config)
                delay = jittered(interval) - (time.monotonic() - started)
            self._save_state()
            await self._sleep(delay)

    def _apply(self, answer: HeartbeatResponse, version: int | None) -> None:
        if answer.upgrade_to:
            log.info("server offers agent version %s (upgrades not handled yet)", answer.upgrade_to)
        if answer.commands:
            log.info("%d command(s) queued; commands are not handled yet", len(answer.commands))
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
