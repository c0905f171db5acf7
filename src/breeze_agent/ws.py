"""The agent's WebSocket to ``/ws/agents/{agent_id}``: commands pushed the moment they are
queued; output, acks and results sent back without one HTTP request each.

The socket is an accelerator, never the only path: commands also come in heartbeat
answers and output, acks and results can be POSTed, so when the socket is down (or disabled with
``BREEZE_AGENT_WEBSOCKET=0``) the agent still works, only slower.

Connection life:

* ``ws://`` or ``wss://`` follows the server URL's scheme; TLS trusts the system store or
  only the pinned CA bundle, exactly like the HTTP transport.
* ``Authorization: Bearer <agent token>`` at the handshake. A close with code 4401 (or an
  HTTP 401 handshake answer) means the token was revoked: ``revoked`` becomes true and
  ``run()`` returns, like a 401 on the HTTP path. Any other refused handshake (a server or
  proxy without the endpoint) is retried slowly.
* Acks and results go over the socket only when the server's first frame (``WsHello``)
  says it takes them; each waits for its ``WsReceipt`` (the server has stored it) for up
  to ``REPORT_TIMEOUT`` seconds, and without one the caller POSTs it instead.
* Protocol pings every ~20 s; a peer that does not answer within 20 s is dropped.
* Reconnects back off exponentially with full jitter (a random wait in ``[0, d]``) so a
  fleet that lost a server at once does not come back in one wave; a connection that
  stayed up for ``STABLE_AFTER`` seconds resets the backoff. A close with 4000 ("replaced
  by a newer connection") means another process holds this agent's identity (a cloned
  machine, a second service): we wait long before trying again instead of fighting it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import ssl
import time
from collections.abc import Awaitable, Callable
from urllib.parse import quote, urlsplit

from pydantic import ValidationError
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from breeze_agent.config import check_server_url
from breeze_agent.transport import USER_AGENT, verify_setting
from breeze_protocol.commands import (
    CommandEnvelope,
    OutputChunk,
    WsAck,
    WsCommand,
    WsHello,
    WsOutput,
    WsReceipt,
    WsResult,
)

log = logging.getLogger("breeze_agent.ws")

ENV_WEBSOCKET = "BREEZE_AGENT_WEBSOCKET"
CLOSE_REVOKED = 4401
CLOSE_REPLACED = 4000
# The agent's pings are how it notices a dead server (and keep NAT state warm); the
# server pings far less often (server.ws_ping_interval_seconds).
PING_INTERVAL = 30.0
PING_TIMEOUT = 20.0
OPEN_TIMEOUT = 15.0
SEND_TIMEOUT = 10.0
STABLE_AFTER = 30.0  # a connection that lived this long resets the backoff
MAX_CHUNKS_PER_FRAME = 200  # WsOutput.chunks max_length
MAX_FRAME_BYTES = 16 * 1_048_576  # what the server accepts (uvicorn's default ws_max_size)
# How long an ack or result sent over the socket waits for the server's receipt before it
# is POSTed instead (a repeat is harmless: the server's ingest is idempotent).
REPORT_TIMEOUT = 30.0


def websocket_enabled() -> bool:
    """False when ``BREEZE_AGENT_WEBSOCKET`` is 0/false/no/off."""
    raw = os.environ.get(ENV_WEBSOCKET, "").strip().lower()
    return raw not in ("0", "false", "no", "off")


def socket_url(server_url: str, agent_id: str) -> str:
    """``ws(s)://host[:port][/prefix]/ws/agents/<agent_id>`` for a normalised server URL."""
    parts = urlsplit(server_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return f"{scheme}://{parts.netloc}{parts.path.rstrip('/')}/ws/agents/{quote(agent_id, safe='')}"


class AgentSocket:
    """One agent's WebSocket, kept open (reconnecting) by ``run()`` until told to stop."""

    def __init__(
        self,
        server_url: str,
        agent_id: str,
        token: str,
        *,
        on_command: Callable[[CommandEnvelope], Awaitable[None]],
        ca_cert: str | None = None,
        insecure: bool = False,
        backoff_base: float = 1.0,
        backoff_cap: float = 60.0,
    ) -> None:
        if backoff_base <= 0 or backoff_cap < backoff_base:
            raise ValueError("need 0 < backoff_base <= backoff_cap")
        self.url = socket_url(check_server_url(server_url, insecure=insecure), agent_id)
        self.agent_id = agent_id
        self._token = token
        self._on_command = on_command
        verify = verify_setting(ca_cert)  # raises at once when the pinned CA file is missing
        self._ssl: ssl.SSLContext | bool | None = None
        if self.url.startswith("wss://"):
            self._ssl = verify
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.revoked = False  # the server refused this agent's token: stop, like HTTP 401
        self.connections = 0  # successful connections so far (for logs and tests)
        self._ws: ClientConnection | None = None
        self._failures = 0
        self._handlers: set[asyncio.Task[None]] = set()
        self.takes_reports = False  # this connection's server said so in its WsHello
        self._receipts: dict[tuple[str, str], asyncio.Future[WsReceipt | None]] = {}

    @property
    def connected(self) -> bool:
        return self._ws is not None

    # -- the connection loop ---------------------------------------------------------------

    async def run(self, stopping: asyncio.Event) -> None:
        """Connect and reconnect until ``stopping`` is set or the token is refused."""
        if not websocket_enabled():
            log.info("WebSocket disabled (%s=0): commands arrive with heartbeats", ENV_WEBSOCKET)
            return
        while not stopping.is_set() and not self.revoked:
            opened_at = time.monotonic()
            long_wait = False
            try:
                long_wait = await self._session(stopping)
            except asyncio.CancelledError:
                raise
            except InvalidStatus as exc:
                status = exc.response.status_code
                if status == 401:
                    self._revoke("handshake answered 401")
                else:
                    # 403/404: most likely a server (or proxy) without the endpoint; not a
                    # revocation (the HTTP gateway would say so). Heartbeats carry on.
                    log.warning("WebSocket handshake answered %s; retrying later", status)
                    long_wait = True
            except (OSError, TimeoutError, InvalidHandshake, InvalidURI, ConnectionClosed) as exc:
                log.info("WebSocket unavailable (%s: %s); retrying", type(exc).__name__, exc)
            except Exception:  # never let a surprise kill the agent's only push channel
                log.exception("WebSocket failed unexpectedly; retrying")
            finally:
                self._ws = None
            if stopping.is_set() or self.revoked:
                break
            if time.monotonic() - opened_at >= STABLE_AFTER:
                self._failures = 0
            delay = self._next_delay(long_wait)
            log.debug("WebSocket reconnect in %.2fs", delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), timeout=delay)

    def _next_delay(self, long_wait: bool) -> float:
        if long_wait:
            return random.uniform(self.backoff_cap / 2, self.backoff_cap)
        self._failures += 1
        ceiling = min(self.backoff_cap, self.backoff_base * 2 ** min(self._failures - 1, 32))
        return random.uniform(0, ceiling)  # full jitter

    def _revoke(self, why: str) -> None:
        self.revoked = True
        log.error("the server refused this agent's token on the WebSocket (%s)", why)

    async def _session(self, stopping: asyncio.Event) -> bool:
        """One connection, until it closes or we stop. True: wait long before the next."""
        async with connect(
            self.url,
            additional_headers={"Authorization": f"Bearer {self._token}"},
            user_agent_header=USER_AGENT,
            ssl=self._ssl,
            open_timeout=OPEN_TIMEOUT,
            ping_interval=PING_INTERVAL,
            ping_timeout=PING_TIMEOUT,
            close_timeout=5,
            max_size=MAX_FRAME_BYTES,
        ) as ws:
            self._ws = ws
            self.takes_reports = False
            self.connections += 1
            log.info("WebSocket connected to %s", self.url)
            reader = asyncio.create_task(self._read(ws))
            stop = asyncio.create_task(stopping.wait())
            try:
                await asyncio.wait({reader, stop}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                self._ws = None  # no more sends from here on
                self.takes_reports = False
                self._forget_receipts()
                stop.cancel()
                if not reader.done():
                    reader.cancel()
                    await ws.close(1001, "agent stopping")
                with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                    await reader
            code, reason = ws.close_code, ws.close_reason or ""
        if code == CLOSE_REVOKED:
            self._revoke(reason or "closed with 4401")
        elif code == CLOSE_REPLACED:
            log.warning(
                "WebSocket replaced by a newer connection of this agent (%s); another process "
                "may be running with this identity",
                reason,
            )
            return True
        elif not stopping.is_set():
            log.info("WebSocket closed (code %s %s); reconnecting", code, reason)
        return False

    async def _read(self, ws: ClientConnection) -> None:
        async for message in ws:
            if isinstance(message, bytes):
                log.warning("ignoring a binary WebSocket frame (%d bytes)", len(message))
                continue
            self._dispatch(message)

    def _dispatch(self, message: str) -> None:
        try:
            frame = json.loads(message)
            kind = frame.get("type") if isinstance(frame, dict) else None
            if kind == "receipt":
                self._on_receipt(WsReceipt.model_validate(frame))
                return
            if kind == "hello":
                self.takes_reports = WsHello.model_validate(frame).reports
                return
            if kind != "command":
                log.warning("ignoring an unknown WebSocket frame: %.200s", message)
                return
            envelope = WsCommand.model_validate(frame).command
        except (ValueError, ValidationError) as exc:
            log.warning("ignoring an invalid WebSocket frame (%s): %.200s", exc, message)
            return
        # Each command in its own task: a slow handler must not hold up the next frame
        # (a cancel has to get through while its command still runs).
        task = asyncio.create_task(self._handle(envelope))
        self._handlers.add(task)
        task.add_done_callback(self._handlers.discard)

    async def _handle(self, envelope: CommandEnvelope) -> None:
        try:
            await self._on_command(envelope)
        except Exception:
            log.exception("handling command %s from the WebSocket failed", envelope.id)

    # -- output ----------------------------------------------------------------------------

    async def send_output(self, chunks: list[OutputChunk]) -> bool:
        """Send output over the socket; False when it is not connected or the send failed
        (the caller then POSTs the chunks: the server ignores repeats of a seq)."""
        ws = self._ws
        if ws is None:
            return False
        try:
            for start in range(0, len(chunks), MAX_CHUNKS_PER_FRAME):
                frame = WsOutput(chunks=chunks[start : start + MAX_CHUNKS_PER_FRAME])
                await asyncio.wait_for(ws.send(frame.model_dump_json()), timeout=SEND_TIMEOUT)
        except (ConnectionClosed, TimeoutError, OSError) as exc:
            log.info("WebSocket output send failed (%s); falling back to HTTP", exc)
            return False
        return True

    # -- acks and results ------------------------------------------------------------------

    async def report(self, frame: WsAck | WsResult) -> WsReceipt | None:
        """Send an ack or result and wait for the server's receipt; None when that cannot
        be had (no socket, a server that does not take reports, a failed send, no receipt
        in REPORT_TIMEOUT): the caller then POSTs it."""
        ws = self._ws
        if ws is None or not self.takes_reports:
            return None
        key = (frame.type, frame.command_id)
        waiting: asyncio.Future[WsReceipt | None] = asyncio.get_running_loop().create_future()
        self._receipts[key] = waiting
        try:
            await asyncio.wait_for(ws.send(frame.model_dump_json()), timeout=SEND_TIMEOUT)
            receipt = await asyncio.wait_for(waiting, timeout=REPORT_TIMEOUT)
        except (ConnectionClosed, TimeoutError, OSError) as exc:
            log.info("%s of %s not confirmed over the WebSocket (%s)", *key, type(exc).__name__)
            return None
        finally:
            if self._receipts.get(key) is waiting:
                del self._receipts[key]
        if receipt is None:
            log.info("%s of %s not confirmed: the WebSocket closed", *key)
        return receipt

    def _on_receipt(self, receipt: WsReceipt) -> None:
        waiting = self._receipts.get((receipt.kind, receipt.command_id))
        if waiting is not None and not waiting.done():
            waiting.set_result(receipt)

    def _forget_receipts(self) -> None:
        """The socket is gone: what waits for a receipt will not get one (POSTed instead)."""
        receipts, self._receipts = self._receipts, {}
        for waiting in receipts.values():
            if not waiting.done():
                waiting.set_result(None)
