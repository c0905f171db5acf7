"""Virtual agents: one asyncio process drives thousands of them through the real protocol.

Each agent enrolls with a real enrollment key, uploads a full inventory, keeps its
WebSocket (/ws/agents/{id}) open, heartbeats every interval +-jitter with drifting
metrics, sends an inventory delta every inventory interval, and runs every command it
receives as a no-op that answers at once (ack, then result) after checking the envelope's
signature with the key it got at enrollment.

Run as ``python -m bench.simulator``: a worker driven by bench/run.py over stdin/stdout,
one JSON object per line each way (``{"id", "op", "args"}`` in, ``{"id", "ok", "result"}``
out). It raises its open-file limit, binds each agent to its own source address in
127.<10+worker>.x.y (loopback ports never run out), dies with its parent (PR_SET_PDEATHSIG)
and on stdin EOF, and stops by itself at --deadline seconds whatever happens.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import random
import sys
import time
from typing import Any

from bench.agent import Fleet
from bench.loadgen import Target, closed_loop
from bench.procs import die_with_parent, raise_fd_limit
from breeze.ops import gc as gc_settings

log = logging.getLogger("bench.simulator")
MAX_OPS = 100_000


def settle_heap() -> None:
    """Move the fleet's long-lived objects out of the collector's sight, as the server
    does with its start-up objects (`breeze.ops.gc.settle`).

    Thousands of agents in one heap are millions of tracked objects (sockets, tasks,
    buffers). With CPython's default thresholds, full collections held a simulator of
    5,000 agents 0.65-1.3 s each, during broadcasts too (logged with a gc callback), and
    every frame waiting meanwhile was timed late. Real agents do not share a heap, so the
    simulator must not add such pauses to the server's figures: after each growth what
    exists is frozen, and young collections come after 50,000 allocations, not 700."""
    gc_settings.settle()


class Worker:
    """Answers the orchestrator's operations for one fleet of virtual agents."""

    def __init__(self, index: int, seed: int) -> None:
        self.fleet = Fleet(index, seed)
        self.index = index

    def local_ips(self, count: int) -> list[str]:
        return [self.fleet.local_ip(n) for n in range(count)]

    async def op_grow(self, **args: Any) -> dict[str, Any]:
        grown = await self.fleet.grow(**args)
        settle_heap()
        return grown

    async def op_stats(self, reset: bool = True) -> dict[str, Any]:
        return self.fleet.stats.snapshot(reset=reset) | {"ws_open": self.fleet.ws_open}

    async def op_received(self) -> dict[str, Any]:
        got, self.fleet.received = self.fleet.received, {}
        return {"received": got}

    async def op_targets(self) -> dict[str, Any]:
        return {"targets": [[a.agent_id, a.device_id] for a in self.fleet.live()]}

    async def op_pause(self, within: float = 30.0) -> dict[str, Any]:
        self.fleet.running.clear()
        deadline = time.monotonic() + within
        for _ in range(100_000):  # in-flight requests end within their own 30 s limit
            if not self.fleet.inflight or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
        return self.fleet.totals() | {"inflight": self.fleet.inflight}

    async def op_resume(self) -> dict[str, Any]:
        self.fleet.running.set()
        return {}

    async def op_stop_agents(self, count: int) -> dict[str, Any]:
        stopped = await self.fleet.stop_some(count)
        return {"stopped": [{"device_id": a.device_id, "last_ok": a.last_ok} for a in stopped]}

    async def op_saturate(
        self, host: str, port: int, duration: float, concurrency: int
    ) -> dict[str, Any]:
        """Heartbeats as fast as the server answers them, from the enrolled agents."""
        agents = self.fleet.live()
        targets = [
            Target(
                f"/api/v1/agents/{a.agent_id}/heartbeat",
                a.beat_headers(),
                lambda a=a: a.walk.beat(self.fleet.interval),  # type: ignore[misc]
            )
            for a in agents
        ]
        self.fleet.inflight += 1  # pause waits for this too
        try:
            res = await closed_loop(
                host,
                port,
                targets,
                duration=duration,
                concurrency=concurrency,
                local_ips=self.local_ips(max(1, len(agents))),
            )
        finally:
            self.fleet.inflight -= 1
        self.fleet.stats.total_ok += res.ok  # accepted rows: must all be stored
        self.fleet.stats.total_err += sum(res.errors.values())
        return res.as_dict()

    async def op_hello(
        self, host: str, port: int, duration: float, concurrency: int
    ) -> dict[str, Any]:
        """The same closed loop against the bare ASGI hello-world (same body and headers)."""
        walk = self.fleet.new_walk()
        target = Target(
            "/api/v1/agents/hello/heartbeat",
            {"Authorization": "Bearer brz_hello", "Content-Type": "application/json"},
            lambda: walk.beat(60),
        )
        res = await closed_loop(
            host,
            port,
            [target],
            duration=duration,
            concurrency=concurrency,
            local_ips=self.local_ips(concurrency),
        )
        return res.as_dict()

    async def op_shutdown(self) -> dict[str, Any]:
        await self.fleet.close()
        return self.fleet.totals()


async def serve(worker: Worker, deadline: float) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=16 * 1024 * 1024)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    out = sys.stdout
    try:
        for _ in range(MAX_OPS):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                log.error("simulator %d: deadline reached; stopping", worker.index)
                return
            try:
                line = await asyncio.wait_for(reader.readline(), remaining)
            except TimeoutError:
                continue
            if not line:
                return  # the orchestrator is gone
            req = json.loads(line)
            try:
                result = await getattr(worker, "op_" + req["op"])(**req.get("args", {}))
                reply = {"id": req["id"], "ok": True, "result": result}
            except Exception as exc:
                log.exception("simulator %d: %s failed", worker.index, req.get("op"))
                reply = {"id": req["id"], "ok": False, "error": f"{type(exc).__name__}: {exc}"}
            out.write(json.dumps(reply) + "\n")
            out.flush()
            if req["op"] == "shutdown":
                return
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(worker.fleet.close(), 20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=int, default=0, help="worker number (source addresses)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--deadline", type=float, default=7200, help="seconds before giving up")
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(asctime)s sim: %(message)s"
    )
    die_with_parent()
    raise_fd_limit()
    random.seed(args.seed)
    worker = Worker(args.index, args.seed)
    deadline = time.monotonic() + args.deadline
    try:
        import uvloop

        uvloop.run(serve(worker, deadline))
    except ImportError:
        asyncio.run(serve(worker, deadline))


if __name__ == "__main__":
    main()
