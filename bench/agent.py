"""One virtual agent and the fleet of them in a simulator process.

Every loop here is bounded twice: by a count (MAX_BEATS, MAX_RECONNECTS) and by the
process deadline of bench/simulator.py; closing the fleet cancels every task.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from bench.content import (
    InventoryTemplate,
    MetricWalk,
    delta_body,
    enroll_body,
    full_body,
    machine_id,
)
from bench.wire import Connection, Reply, WireError, request_once
from breeze_agent.ws import PING_INTERVAL, PING_TIMEOUT
from breeze_protocol.agent_api import EnrollResponse, HeartbeatResponse
from breeze_protocol.commands import (
    CommandAck,
    CommandEnvelope,
    CommandResult,
    WsAck,
    WsHello,
    WsReceipt,
    WsResult,
)
from breeze_protocol.signing import VerifiedRoots, verify_envelope

log = logging.getLogger("bench.agent")
MAX_BEATS = 100_000
MAX_RECONNECTS = 1_000
ENROLL_ATTEMPTS = 4
CONCURRENT_STARTS = 64  # per process: enrollments + first inventories in flight at once
CONFIG_HEADER = "X-Breeze-Config-Version"
REQUEST_TIMEOUT = 30.0
DUE_PER_TURN = 8  # received commands verified and started per turn of the event loop
NET_ERRORS = (OSError, TimeoutError, WireError, ValueError, asyncio.IncompleteReadError)


@dataclass
class Stats:
    """Counters of a measurement window (reset by ``snapshot``) and of the whole run."""

    hb_ok: int = 0
    hb_err: Counter[str] = field(default_factory=Counter)
    hb_ms: list[float] = field(default_factory=list)
    enroll_ms: list[float] = field(default_factory=list)
    inventory_ms: list[float] = field(default_factory=list)
    other: Counter[str] = field(default_factory=Counter)
    total_ok: int = 0  # heartbeats answered 200 since start: rows the server must store
    total_err: int = 0

    def snapshot(self, reset: bool) -> dict[str, Any]:
        out = {
            "hb_ok": self.hb_ok,
            "hb_err": dict(self.hb_err),
            "hb_ms": [round(x, 3) for x in self.hb_ms],
            "enroll_ms": [round(x, 3) for x in self.enroll_ms],
            "inventory_ms": [round(x, 3) for x in self.inventory_ms],
            "other": dict(self.other),
        }
        if reset:
            self.hb_ok, self.hb_err, self.hb_ms = 0, Counter(), []
            self.enroll_ms, self.inventory_ms, self.other = [], [], Counter()
        return out


@dataclass(eq=False)
class Agent:
    n: int
    local_ip: str
    hostname: str
    key: str
    walk: MetricWalk
    rng: random.Random
    machine_id: str = field(default_factory=machine_id)
    agent_id: str = ""
    device_id: str = ""
    token: str = ""
    public_key: str = ""
    config_version: str = ""
    inventory: dict[str, Any] = field(default_factory=dict)
    last_ok: float = 0.0  # wall clock of the last accepted heartbeat
    stopped: bool = False
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    ws: ClientConnection | None = None  # open, and its server takes acks and results
    receipts: dict[tuple[str, str], asyncio.Future[int]] = field(default_factory=dict)

    def beat_headers(self) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        if self.config_version:
            headers[CONFIG_HEADER] = self.config_version
        return headers


class Fleet:
    """The agents of one simulator process and what they measured."""

    def __init__(self, index: int, seed: int) -> None:
        self.index = index
        self.rng = random.Random(seed * 1000 + index)
        self.template = InventoryTemplate(seed)
        self.agents: list[Agent] = []
        self.stats = Stats()
        self.received: dict[str, list[Any]] = {}  # command id -> [wall time, via]
        # Batch roots this process has verified: each real agent checks its batch's one
        # signature on its own CPU; thousands of simulated agents on the server's cores
        # check it once and their own proof each (every field is still verified).
        self.verified_roots: VerifiedRoots = set()
        self.running = asyncio.Event()
        self.running.set()
        self.inflight = 0
        self.ws_open = 0
        self.host, self.port = "127.0.0.1", 0
        self.interval = 60.0
        self.jitter = 0.1
        self.inventory_interval = 3600.0
        self.use_ws = True
        self._starts = asyncio.Semaphore(CONCURRENT_STARTS)
        self._background: set[asyncio.Task[None]] = set()
        # Received, not yet run: an envelope, or a command frame's envelope still to validate.
        self._due: deque[tuple[Agent, CommandEnvelope | dict[str, Any]]] = deque()
        self._due_runner: asyncio.Task[None] | None = None

    # -- helpers -----------------------------------------------------------------------------

    def local_ip(self, n: int) -> str:
        return f"127.{10 + self.index}.{(n // 250) % 250 + 1}.{n % 250 + 1}"

    def new_walk(self) -> MetricWalk:
        return MetricWalk(random.Random(self.rng.random()))

    def live(self) -> list[Agent]:
        return [a for a in self.agents if a.token and not a.stopped]

    def totals(self) -> dict[str, Any]:
        return {
            "total_ok": self.stats.total_ok,
            "total_err": self.stats.total_err,
            "agents": len(self.live()),
        }

    def _spawn(self, coro: Any) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def _call(
        self, agent: Agent, method: str, path: str, body: bytes = b"", auth: bool = True
    ) -> Reply:
        headers = agent.beat_headers() if auth else {"Content-Type": "application/json"}
        return await request_once(
            self.host,
            self.port,
            method,
            path,
            body,
            headers,
            local_ip=agent.local_ip,
            time_limit=REQUEST_TIMEOUT,
        )

    # -- growing the fleet --------------------------------------------------------------------

    async def grow(
        self,
        *,
        url: str,
        keys: list[list[Any]],
        ramp: float,
        interval: float,
        jitter: float,
        inventory_interval: float,
        websocket: bool = True,
        start_within: float = 600.0,
    ) -> dict[str, Any]:
        """Add agents (``keys``: [[enrollment key, how many]]), their starts spread evenly
        over ``ramp`` seconds; answer once each is enrolled and connected, or failed."""
        host_port = url.split("://", 1)[1].rstrip("/")
        self.host, port = host_port.rsplit(":", 1)
        self.port = int(port)
        self.url = url
        self.interval, self.jitter = interval, jitter
        self.inventory_interval = inventory_interval
        self.use_ws = websocket
        new: list[Agent] = []
        for key, count in keys:
            for _ in range(int(count)):
                n = len(self.agents)
                agent = Agent(
                    n=n,
                    local_ip=self.local_ip(n),
                    hostname=f"sim{self.index}-{n:06d}",
                    key=key,
                    walk=self.new_walk(),
                    rng=random.Random(self.rng.random()),
                )
                self.agents.append(agent)
                new.append(agent)
        started = time.monotonic()
        for i, agent in enumerate(new):
            delay = ramp * i / max(1, len(new))
            agent.tasks.append(asyncio.create_task(self._life(agent, delay)))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                asyncio.gather(*(a.ready.wait() for a in new)), ramp + start_within
            )
        enrolled = sum(1 for a in new if a.token)
        return {
            "added": len(new),
            "enrolled": enrolled,
            "failed": len(new) - enrolled,
            "ws_open": self.ws_open,
            "elapsed": time.monotonic() - started,
        }

    async def _life(self, agent: Agent, delay: float) -> None:
        try:
            await asyncio.sleep(delay)
            async with self._starts:
                if not await self._enroll(agent):
                    return
                await self._inventory(agent, full_body(agent.inventory), "inventory")
            if self.use_ws:
                agent.tasks.append(asyncio.create_task(self._socket(agent)))
            else:
                agent.ready.set()
            await self._beats(agent)
        finally:
            agent.ready.set()

    async def _enroll(self, agent: Agent) -> bool:
        body = enroll_body(agent.key, agent.machine_id, agent.hostname)
        for attempt in range(ENROLL_ATTEMPTS):
            t0 = time.perf_counter()
            try:
                reply = await self._call(agent, "POST", "/api/v1/agents/enroll", body, auth=False)
            except NET_ERRORS as exc:
                self.stats.other[f"enroll_error {type(exc).__name__}"] += 1
            else:
                if reply.status == 200:
                    self.stats.enroll_ms.append((time.perf_counter() - t0) * 1000)
                    done = EnrollResponse.model_validate_json(reply.body)
                    agent.agent_id, agent.device_id = done.agent_id, done.device_id
                    agent.token = done.auth_token
                    agent.public_key = done.config.command_public_key or ""
                    agent.config_version = reply.headers.get(CONFIG_HEADER.lower(), "")
                    agent.inventory = self.template.for_agent(agent.hostname, agent.n, agent.rng)
                    self.stats.other["enrolled"] += 1
                    return True
                self.stats.other[f"enroll_error http {reply.status}"] += 1
            await asyncio.sleep(min(30.0, 2.0**attempt) * (0.5 + agent.rng.random()))
        return False

    async def _inventory(self, agent: Agent, body: bytes, what: str) -> None:
        t0 = time.perf_counter()
        try:
            path = f"/api/v1/agents/{agent.agent_id}/inventory"
            reply = await self._call(agent, "PUT", path, body)
        except NET_ERRORS as exc:
            self.stats.other[f"{what}_error {type(exc).__name__}"] += 1
            return
        if reply.status == 200:
            self.stats.inventory_ms.append((time.perf_counter() - t0) * 1000)
            self.stats.other[f"{what}_ok"] += 1
        else:
            self.stats.other[f"{what}_error http {reply.status}"] += 1

    # -- heartbeats ---------------------------------------------------------------------------

    async def _beats(self, agent: Agent) -> None:
        # The first beat at a random point of the first interval: a fleet's beats are spread.
        await asyncio.sleep(agent.rng.uniform(0, self.interval))
        next_delta = time.monotonic() + agent.rng.uniform(0, self.inventory_interval)
        for _ in range(MAX_BEATS):
            if agent.stopped:
                return
            await self.running.wait()
            await self._beat(agent)
            if time.monotonic() >= next_delta:
                next_delta += self.inventory_interval
                await self._inventory(agent, delta_body(agent.inventory, agent.rng), "delta")
            j = self.jitter
            await asyncio.sleep(self.interval * agent.rng.uniform(1 - j, 1 + j))

    async def _beat(self, agent: Agent) -> None:
        body = agent.walk.beat(self.interval)
        self.inflight += 1
        t0 = time.perf_counter()
        try:
            reply = await self._call(
                agent, "POST", f"/api/v1/agents/{agent.agent_id}/heartbeat", body
            )
        except NET_ERRORS as exc:
            self.stats.hb_err[type(exc).__name__] += 1
            self.stats.total_err += 1
            return
        finally:
            self.inflight -= 1
        if reply.status != 200:
            self.stats.hb_err[f"http {reply.status}"] += 1
            self.stats.total_err += 1
            return
        self.stats.hb_ms.append((time.perf_counter() - t0) * 1000)
        self.stats.hb_ok += 1
        self.stats.total_ok += 1
        agent.last_ok = time.time()
        agent.config_version = reply.headers.get(CONFIG_HEADER.lower(), agent.config_version)
        answer = HeartbeatResponse.model_validate_json(reply.body)
        for envelope in answer.commands:
            self._on_envelope(agent, envelope, "heartbeat")

    # -- the WebSocket ------------------------------------------------------------------------

    async def _socket(self, agent: Agent) -> None:
        url = f"{self.url.replace('http', 'ws', 1)}/ws/agents/{agent.agent_id}"
        for attempt in range(MAX_RECONNECTS):
            if agent.stopped:
                return
            up = False
            try:
                async with connect(
                    url,
                    additional_headers={"Authorization": f"Bearer {agent.token}"},
                    open_timeout=15,
                    ping_interval=PING_INTERVAL,  # as the real agent
                    ping_timeout=PING_TIMEOUT,
                    close_timeout=5,
                    max_size=16 * 1_048_576,
                    local_addr=(agent.local_ip, 0),
                ) as ws:
                    up = True
                    self.ws_open += 1
                    agent.ready.set()
                    try:
                        async for message in ws:
                            self._on_frame(agent, ws, message)
                    finally:
                        self._socket_gone(agent)
                    code = ws.close_code
                self.stats.other[f"ws_closed {code}"] += 1
                if code in (4401, 4000):
                    return
            except (OSError, TimeoutError, InvalidStatus, WebSocketException) as exc:
                if not isinstance(exc, ConnectionClosed) or not agent.stopped:
                    self.stats.other[f"ws_error {type(exc).__name__}"] += 1
            finally:
                if up:
                    self.ws_open -= 1
            agent.ready.set()  # a socket that cannot open must not hold up the step
            await asyncio.sleep(min(30.0, 1.0 * 2 ** min(attempt, 5)) * agent.rng.uniform(0.5, 1))

    def _on_frame(self, agent: Agent, ws: ClientConnection, message: str | bytes) -> None:
        try:
            frame = json.loads(message)
            kind = frame.get("type") if isinstance(frame, dict) else None
            if kind == "receipt":
                receipt = WsReceipt.model_validate(frame)
                waiting = agent.receipts.pop((receipt.kind, receipt.command_id), None)
                if waiting is not None and not waiting.done():
                    waiting.set_result(receipt.status)
            elif kind == "hello":
                agent.ws = ws if WsHello.model_validate(frame).reports else None
            elif kind == "command" and isinstance(frame.get("command"), dict):
                # Validated when run (`_run_due`): the time of receipt is taken now.
                self._on_envelope(agent, frame["command"], "ws")
            else:
                raise ValueError(f"unexpected frame {kind!r}")
        except (ValueError, ValidationError):
            self.stats.other["ws_bad_frame"] += 1

    @staticmethod
    def _socket_gone(agent: Agent) -> None:
        agent.ws = None
        receipts, agent.receipts = agent.receipts, {}
        for waiting in receipts.values():
            if not waiting.done():
                waiting.set_result(0)  # no receipt: POSTed instead

    # -- commands -----------------------------------------------------------------------------

    def _on_envelope(
        self, agent: Agent, envelope: CommandEnvelope | dict[str, Any], via: str
    ) -> None:
        now = time.time()
        command_id = envelope.get("id") if isinstance(envelope, dict) else envelope.id
        if not isinstance(command_id, str):
            self.stats.other["ws_bad_frame"] += 1
            return
        if command_id in self.received:
            self.stats.other["command_repeat"] += 1
            return
        self.received[command_id] = [now, via]
        self.stats.other[f"command_via_{via}"] += 1
        self._due.append((agent, envelope))
        if self._due_runner is None or self._due_runner.done():
            self._due_runner = self._spawn(self._run_due())

    async def _run_due(self) -> None:
        """Verify and run what was received, DUE_PER_TURN commands per turn of the loop,
        so reading the sockets goes first: real agents do not share a CPU, and one
        agent's ack and result must not delay another agent's receiving its command
        (bench/README.md). Every command is still verified, acknowledged and reported."""
        while self._due:
            for _ in range(min(DUE_PER_TURN, len(self._due))):
                agent, received = self._due.popleft()
                try:
                    envelope = CommandEnvelope.model_validate(received)
                except ValidationError:
                    self.stats.other["ws_bad_frame"] += 1
                    continue
                valid = envelope.agent_id == agent.agent_id and verify_envelope(
                    agent.public_key, envelope, self.verified_roots
                )
                if not valid:
                    self.stats.other["command_bad_signature"] += 1
                if envelope.type != "cancel":
                    self._spawn(self._execute(agent, envelope, valid))
            await asyncio.sleep(0)

    async def _execute(self, agent: Agent, envelope: CommandEnvelope, valid: bool) -> None:
        steps: list[WsAck | WsResult] = []
        if valid:
            result = CommandResult(status="completed", exit_code=0, duration_ms=0)
            steps.append(WsAck(command_id=envelope.id, ack=CommandAck()))
        else:
            result = CommandResult(status="failed", error="signature check failed")
        steps.append(WsResult(command_id=envelope.id, result=result))
        # Over the socket when the server takes them there, each step waiting for its
        # receipt, as the real agent does (breeze_agent.commands.reports); else POSTed.
        while steps and agent.ws is not None:
            status = await self._over_socket(agent, agent.ws, steps[0])
            if not status:
                break
            ok = status == 204
            verdict = "ws_ok" if ok else f"error ws {status}"
            self.stats.other[f"{steps[0].type}_{verdict}"] += 1
            steps.pop(0)
        if steps:
            await self._post(agent, envelope.id, steps)

    async def _over_socket(
        self, agent: Agent, ws: ClientConnection, frame: WsAck | WsResult
    ) -> int:
        """The receipt's status; 0 when none came (the caller POSTs the report)."""
        waiting: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        agent.receipts[(frame.type, frame.command_id)] = waiting
        try:
            await asyncio.wait_for(ws.send(frame.model_dump_json()), REQUEST_TIMEOUT)
            return await asyncio.wait_for(waiting, REQUEST_TIMEOUT)
        except (ConnectionClosed, OSError, TimeoutError) as exc:
            self.stats.other[f"{frame.type}_ws_unconfirmed {type(exc).__name__}"] += 1
            agent.receipts.pop((frame.type, frame.command_id), None)
            return 0

    async def _post(self, agent: Agent, command_id: str, frames: list[WsAck | WsResult]) -> None:
        base = f"/api/v1/agents/{agent.agent_id}/commands/{command_id}"
        steps = [
            (f.type, (f.ack if isinstance(f, WsAck) else f.result).model_dump_json())
            for f in frames
        ]
        # Ack and result on one keep-alive connection, as the agent's HTTP client
        # (httpx, transport.py) sends them; two fresh connections per command would make
        # a broadcast a burst of two connects per agent.
        conn = Connection(self.host, self.port, agent.local_ip)
        try:
            for name, text in steps:
                try:
                    reply = await conn.request(
                        "POST",
                        f"{base}/{name}",
                        text.encode(),
                        agent.beat_headers(),
                        time_limit=REQUEST_TIMEOUT,
                    )
                except NET_ERRORS as exc:
                    self.stats.other[f"{name}_error {type(exc).__name__}"] += 1
                    return
                ok = reply.status == 204
                verdict = "http_ok" if ok else f"error http {reply.status}"
                self.stats.other[f"{name}_{verdict}"] += 1
        finally:
            await conn.close()

    # -- stopping -----------------------------------------------------------------------------

    async def stop_some(self, count: int) -> list[Agent]:
        chosen = [a for a in self.live() if a.last_ok][-count:] if count else []
        for agent in chosen:
            await self._stop(agent)
        return chosen

    async def _stop(self, agent: Agent) -> None:
        agent.stopped = True
        for task in agent.tasks:
            task.cancel()
        for task in agent.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def close(self) -> None:
        for agent in self.agents:
            agent.stopped = True
            for task in agent.tasks:
                task.cancel()
        for task in list(self._background):
            task.cancel()
        pending = [t for a in self.agents for t in a.tasks] + list(self._background)
        if pending:
            await asyncio.wait(pending, timeout=15)

    def __repr__(self) -> str:
        return json.dumps(self.totals())
