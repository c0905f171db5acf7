"""The agent WebSocket (``/ws/agents/{agent_id}``) and the per-process hub behind it.

What it is for: a command reaches a connected agent the moment it is queued, instead of
at the next heartbeat, and a running command's output flows back without one HTTP
request per chunk. It is an accelerator only: every command is a row and heartbeats hand
out whatever the socket did not, so a lost socket or a lost bus event costs latency,
never a command.

* Handshake: ``Authorization: Bearer <agent token>``, checked like the HTTP gateway
  (``agents.auth``). A bad token, or a token of another agent, is answered by accepting
  and closing at once with 4401, so the agent reads a close code it can act on (stop, as
  on HTTP 401) rather than a bare HTTP error.
* One connection per agent in the whole cluster. Locally a newer connection replaces
  the older one (closed with 4000). Across replicas every connect is announced on the
  bus (``agent.ws.connected`` with this process's node id, a connection id and the
  open time); a replica holding an *older* connection of that agent closes it. Older is
  decided by (open time, connection id), so two simultaneous connects on two replicas
  still end with exactly one survivor.
* Liveness: uvicorn's protocol pings (``server.ws_ping_interval_seconds``, 30 s to
  answer) drop dead peers; agents ping every 30 s themselves. Frames are not compressed
  unless ``server.ws_compression`` is on.
* Delivery: each connection has one delivery task, woken on connect and on every
  ``agent.commands`` event for its agent (a broadcast's events come a few hundred to a
  bus message); wake-ups coalesce. The claims of every connection woken at about the
  same time are made together (``ClaimBatcher`` → ``commands.delivery.claim_envelopes_for``:
  one read and one short write transaction, which claims each pending command exactly
  once across processes, then signatures), so ten thousand wake-ups are a few
  statements; then every task sends its own envelopes at once, with no transaction open
  while the socket is awaited.
* A script batch skips the claim for the agents connected here: the hub is the
  process's ``commands.push.LocalSockets``; their rows are written ``sent`` and the
  frames of their envelopes, signed as one batch, are sent after the commit
  (``hand_over``) in one pass over the sockets: each frame goes on the spot
  (`breeze.core.eager`), and only a socket that cannot take it at once (or is busy)
  leaves it to its delivery task.
* The hub holds ONE bus subscription per process (``agent.commands``,
  ``agent.ws.connected``, ``device.decommissioned``), started by this router's lifespan.
* The first frame to the agent is ``WsHello``: this server takes acks and results over
  the socket.
* Frames from the agent: ``WsOutput`` is stored by ``commands.delivery.store_output``;
  ``WsAck``/``WsResult`` are stored in batches by ``commands.reports`` and each answered
  with a ``WsReceipt`` after its commit; anything else is logged (rate-limited per
  connection) and ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, WebSocket
from prometheus_client import Counter, Gauge
from pydantic import ValidationError
from starlette.websockets import WebSocketDisconnect, WebSocketState

from breeze.agents.auth import AGENT_TOKEN_PREFIX, TokenOwner, token_lookup
from breeze.agents.claims import ClaimBatcher
from breeze.commands.events import unpack
from breeze.commands.reports import REPORT_FRAMES, ReportQueue
from breeze.commands.reports import parse as parse_report
from breeze.core.eager import start_eagerly
from breeze.core.errors import BreezeError
from breeze.core.security import token_hash
from breeze.core.state import AppState
from breeze_protocol.commands import CommandEnvelope, WsCommand, WsHello, WsOutput, WsReceipt

log = logging.getLogger("breeze.agents.ws")

TOPIC_COMMANDS = "agent.commands"
TOPIC_CONNECTED = "agent.ws.connected"
TOPIC_DECOMMISSIONED = "device.decommissioned"
TOPICS = (TOPIC_COMMANDS, TOPIC_CONNECTED, TOPIC_DECOMMISSIONED)

CLOSE_REPLACED = 4000
CLOSE_UNAUTHORIZED = 4401
CLOSE_GOING_AWAY = 1001
CLOSE_TRY_AGAIN = 1013
SEND_TIMEOUT = 10.0  # a peer that cannot take a frame in this long is dropped
SEND_ERRORS = (TimeoutError, WebSocketDisconnect, RuntimeError, OSError)
SEND_TURN = 500  # frames a hand-over sends per turn of the event loop (~20 ms)
SUBSCRIBE_WAIT = 5.0  # how long startup waits for the bus subscription
MAX_LOGGED_BAD_FRAMES = 5  # per connection; a misbehaving agent cannot flood the log

HELLO = WsHello(reports=True).model_dump_json()

CONNECTED = Gauge("breeze_agent_websockets", "Agent WebSockets open on this server process")
PUSHED = Counter("breeze_agent_ws_commands_pushed_total", "Command envelopes sent over WebSockets")


@dataclass(eq=False)
class Connection:
    """One accepted agent socket on this process."""

    websocket: WebSocket
    agent_id: str
    device_id: uuid.UUID
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    opened_at: float = field(default_factory=time.time)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    claim_due: bool = False  # pending commands may wait: claim them at the next wake-up
    outbox: list[str] = field(default_factory=list)  # frames handed over, unsent
    # A frame `offer` started sending that had to wait: the delivery task finishes it.
    unfinished: Coroutine[Any, Any, None] | None = None
    sending: bool = False  # the delivery task is in the middle of a send
    closed: bool = False
    bad_frames: int = 0

    def rank(self) -> tuple[float, str]:
        return (self.opened_at, self.id)

    def offer(self, text: str) -> bool:
        """Send `text` on the spot when nothing of this socket is queued or in flight
        before it; True when it went. Otherwise it is queued, or, when the send had to
        wait (the peer's buffer is full), its rest is left to the delivery task: either
        way sent in order, under SEND_TIMEOUT. Raises SEND_ERRORS when the socket is
        gone."""
        if self.closed or self.sending or self.outbox or self.unfinished is not None:
            self.outbox.append(text)
            self.wake.set()
            return False
        self.unfinished = start_eagerly(self.websocket.send_text(text))
        if self.unfinished is None:
            return True
        self.wake.set()
        return False

    async def send(self, texts: list[str]) -> int:
        """Finish the send `offer` left unfinished, if any, then send `texts` in order;
        how many frames went (that one included). Frames that cannot all go within
        SEND_TIMEOUT close the socket and stop the rest. The connection's delivery task
        is its only sender (`offer` yields to it), so sends need no lock; one deadline
        covers a wake-up's frames (a claim hands out up to CLAIM_BATCH) instead of one
        timer per frame."""
        sent = 0
        rest, self.unfinished = self.unfinished, None
        if self.closed:
            if rest is not None:
                rest.close()
            return sent
        self.sending = True
        try:
            # asyncio.timeout, not wait_for: no extra task (and loop turn) per send
            async with asyncio.timeout(SEND_TIMEOUT):
                if rest is not None:
                    await rest
                    sent += 1
                for text in texts:
                    await self.websocket.send_text(text)
                    sent += 1
        except SEND_ERRORS as exc:
            log.info("agent %s: send failed (%s); closing", self.agent_id, type(exc).__name__)
            await self.close(CLOSE_GOING_AWAY, "send failed")
        finally:
            self.sending = False
        return sent

    async def close(self, code: int, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        if self.websocket.application_state != WebSocketState.CONNECTED:
            return
        with contextlib.suppress(Exception):  # already gone: nothing left to tell it
            await asyncio.wait_for(self.websocket.close(code, reason), SEND_TIMEOUT)

    def abandon(self) -> None:
        """The socket has ended: drop what was never sent (its commands stay ``sent``,
        unacknowledged, and are re-delivered)."""
        self.closed = True
        self.outbox = []
        if self.unfinished is not None:
            self.unfinished.close()
            self.unfinished = None


class AgentHub:
    """The agent sockets of this process and its one bus subscription."""

    def __init__(self, state: AppState) -> None:
        self.state = state
        self.node = uuid.uuid4().hex
        self.local: dict[str, Connection] = {}
        self.claims = ClaimBatcher(state)
        self.reports = ReportQueue(state)
        self._listener: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        self._listener = asyncio.create_task(self._listen(), name="agent-ws-hub")
        try:
            await asyncio.wait_for(self._subscribed.wait(), SUBSCRIBE_WAIT)
        except TimeoutError:
            log.warning("agent hub: bus subscription not ready; pushes wait for heartbeats")

    async def stop(self) -> None:
        if self._listener:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        await self.reports.stop()
        for conn in list(self.local.values()):
            await conn.close(CLOSE_GOING_AWAY, "server shutting down")
        for task in list(self._tasks):
            task.cancel()

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- the bus ----------------------------------------------------------------------------

    async def _listen(self) -> None:
        while True:
            try:
                async with self.state.bus.subscribe(*TOPICS) as queue:
                    self._subscribed.set()
                    while True:
                        topic, event = await queue.get()
                        try:
                            self.on_event(topic, event)
                        except Exception:
                            log.exception("agent hub: handling %s failed", topic)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("agent hub: bus subscription failed; subscribing again")
                await asyncio.sleep(1.0)

    def on_event(self, topic: str, message: dict[str, Any]) -> None:
        for event in unpack(message):
            self._on_one_event(topic, event)

    def _on_one_event(self, topic: str, event: dict[str, Any]) -> None:
        agent_id = event.get("agent_id")
        conn = self.local.get(agent_id) if isinstance(agent_id, str) else None
        if conn is None:
            return
        if topic == TOPIC_COMMANDS:
            conn.claim_due = True
            conn.wake.set()
        elif topic == TOPIC_CONNECTED:
            if event.get("node") == self.node:
                return
            other = (float(event.get("opened_at") or 0), str(event.get("connection") or ""))
            if conn.rank() < other:
                log.info("agent %s connected on another server; closing here", agent_id)
                self._drop(conn, CLOSE_REPLACED, "replaced by a newer connection")
        elif topic == TOPIC_DECOMMISSIONED and event.get("device_id") == str(conn.device_id):
            self._drop(conn, CLOSE_UNAUTHORIZED, "the device was decommissioned")

    def _drop(self, conn: Connection, code: int, reason: str) -> None:
        if self.local.get(conn.agent_id) is conn:
            del self.local[conn.agent_id]
            CONNECTED.set(len(self.local))
        self._spawn(conn.close(code, reason))

    # -- one connection ---------------------------------------------------------------------

    async def serve(self, conn: Connection) -> None:
        """Register, announce, deliver and read until the socket closes."""
        with contextlib.suppress(*SEND_ERRORS):  # gone already: the read below ends
            conn.offer(HELLO)  # first, before a hand-over can find the connection
        older = self.local.get(conn.agent_id)
        self.local[conn.agent_id] = conn
        CONNECTED.set(len(self.local))
        if older is not None:
            self._spawn(older.close(CLOSE_REPLACED, "replaced by a newer connection"))
        await self._announce(conn)
        delivery = asyncio.create_task(self._deliver(conn))
        conn.claim_due = True  # whatever waited while the agent was away goes out now
        conn.wake.set()
        try:
            await self._read(conn)
        finally:
            conn.abandon()
            delivery.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await delivery
            if self.local.get(conn.agent_id) is conn:
                del self.local[conn.agent_id]
                CONNECTED.set(len(self.local))

    async def _announce(self, conn: Connection) -> None:
        event = {
            "agent_id": conn.agent_id,
            "device_id": str(conn.device_id),
            "node": self.node,
            "connection": conn.id,
            "opened_at": conn.opened_at,
        }
        try:
            await self.state.bus.publish(TOPIC_CONNECTED, event)
        except Exception:
            log.exception("agent hub: could not announce agent %s", conn.agent_id)

    async def _deliver(self, conn: Connection) -> None:
        while not conn.closed:
            await conn.wake.wait()
            conn.wake.clear()
            texts, conn.outbox = conn.outbox, []
            if conn.claim_due:
                conn.claim_due = False
                texts += [WsCommand(command=e).model_dump_json() for e in await self._claim(conn)]
            due = len(texts) + (conn.unfinished is not None)
            if not due:
                continue
            sent = await conn.send(texts)
            PUSHED.inc(sent)
            if sent < due:
                return  # claimed but unsent: re-delivered as never acknowledged

    async def _claim(self, conn: Connection) -> list[CommandEnvelope]:
        from breeze.commands.delivery import CLAIM_BATCH

        try:
            envelopes = await self.claims.claim(conn.device_id, conn.agent_id)
        except Exception:
            # The commands stay pending: the next wake-up or heartbeat hands them out.
            log.exception("agent %s: claiming commands failed", conn.agent_id)
            return []
        if len(envelopes) >= CLAIM_BATCH:
            conn.claim_due = True  # a long queue: the rest in the next round
            conn.wake.set()
        return envelopes

    # -- the batch hand-over (commands.push.LocalSockets) -----------------------------------

    def agents_of(self, device_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
        wanted = set(device_ids)
        return {
            c.device_id: c.agent_id
            for c in self.local.values()
            if c.device_id in wanted and not c.closed
        }

    async def hand_over(self, frames: Sequence[tuple[uuid.UUID, str, str]]) -> int:
        """Send each frame to its socket on the spot (`Connection.offer`); a socket that
        cannot take it now gets it from its delivery task. One pass over the sockets
        rather than a task wake-up and a send deadline each (`breeze.core.eager`). A turn
        of the loop every SEND_TURN frames lets heartbeats in; the reports of the agents
        served first wait in their queue until the last frame is out (`ReportQueue.held`)."""
        handed = sent = 0
        with self.reports.held():
            for n, (device_id, agent_id, text) in enumerate(frames):
                if n and n % SEND_TURN == 0:
                    PUSHED.inc(sent)
                    sent = 0
                    await asyncio.sleep(0)
                conn = self.local.get(agent_id)
                if conn is None or conn.closed or conn.device_id != device_id:
                    continue  # gone (or re-enrolled): sent, unacknowledged, re-delivered
                handed += 1
                try:
                    sent += conn.offer(text)
                except SEND_ERRORS as exc:
                    log.info("agent %s: send failed (%s); closing", agent_id, type(exc).__name__)
                    self._spawn(conn.close(CLOSE_GOING_AWAY, "send failed"))
        PUSHED.inc(sent)
        return handed

    async def _read(self, conn: Connection) -> None:
        while True:
            message = await conn.websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                self._bad_frame(conn, "binary frame")
                continue
            await self._on_frame(conn, text)

    async def _on_frame(self, conn: Connection, text: str) -> None:
        from breeze.commands.delivery import store_output

        try:
            frame = json.loads(text)
            kind = frame.get("type") if isinstance(frame, dict) else None
            if kind in REPORT_FRAMES:
                self._on_report(conn, frame)
                return
            if kind != "output":
                self._bad_frame(conn, f"unknown frame type {kind!r}")
                return
            output = WsOutput.model_validate(frame)
        except (ValueError, ValidationError) as exc:
            self._bad_frame(conn, f"invalid frame: {exc}")
            return
        try:
            await store_output(self.state, conn.device_id, output.chunks)
        except BreezeError as exc:  # refused as the agent's mistake
            self._bad_frame(conn, f"output refused: {exc}")
        except Exception:
            # Ours (e.g. the database is down): the agent's copy is lost for the live view
            # only; its final result carries the whole output.
            log.exception("agent %s: storing output failed", conn.agent_id)

    def _on_report(self, conn: Connection, frame: dict[str, Any]) -> None:
        def reply(receipt: WsReceipt) -> None:
            if not conn.closed:
                with contextlib.suppress(*SEND_ERRORS):  # gone: the agent sends it again
                    conn.offer(receipt.model_dump_json())

        parsed = parse_report(frame, conn.device_id)
        if isinstance(parsed, WsReceipt):
            self._bad_frame(conn, parsed.error or "invalid report")
            reply(parsed)
            return
        parsed.reply = reply
        self.reports.submit(parsed)

    @staticmethod
    def _bad_frame(conn: Connection, what: str) -> None:
        conn.bad_frames += 1
        if conn.bad_frames <= MAX_LOGGED_BAD_FRAMES:
            log.warning("agent %s: ignoring %s", conn.agent_id, what[:300])
        if conn.bad_frames == MAX_LOGGED_BAD_FRAMES:
            log.warning("agent %s: further ignored frames are not logged", conn.agent_id)


def hub_of(app: Any) -> AgentHub:
    hub: AgentHub | None = getattr(app.state, "agent_hub", None)
    if hub is None:
        raise RuntimeError("the agent hub is not running (router lifespan not entered)")
    return hub


@asynccontextmanager
async def hub_lifespan(app: Any) -> AsyncIterator[None]:
    """Router lifespan: inside the app's, so the database and bus are open."""
    hub = AgentHub(app.state.breeze)
    app.state.agent_hub = hub
    await hub.start()
    app.state.breeze.sockets = hub
    try:
        yield
    finally:
        app.state.breeze.sockets = None
        await hub.stop()


router = APIRouter(lifespan=hub_lifespan)


async def _authenticate(websocket: WebSocket, agent_id: str) -> TokenOwner | None:
    header = websocket.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token.startswith(AGENT_TOKEN_PREFIX):
        return None
    owner = await token_lookup(websocket.app).find(token_hash(token))
    if owner is None or owner.agent_id != agent_id:
        return None
    return owner


@router.websocket("/ws/agents/{agent_id}")
async def agent_socket(websocket: WebSocket, agent_id: str) -> None:
    """Commands pushed to the agent, output from it. Close codes: 4401 token refused or
    device decommissioned (stop), 4000 replaced by a newer connection, 1013 try later."""
    hub = hub_of(websocket.app)
    try:
        owner = await _authenticate(websocket, agent_id)
    except Exception:
        log.exception("agent %s: token lookup failed", agent_id[:64])
        await websocket.accept()
        await websocket.close(CLOSE_TRY_AGAIN, "server busy; try again later")
        return
    await websocket.accept()
    if owner is None:
        await websocket.close(
            CLOSE_UNAUTHORIZED, "the agent token is not valid; the device may have been removed"
        )
        return
    conn = Connection(websocket=websocket, agent_id=owner.agent_id, device_id=owner.device_id)
    with contextlib.suppress(WebSocketDisconnect):
        await hub.serve(conn)
