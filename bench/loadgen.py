"""Closed-loop load: a fixed number of keep-alive connections, each sending its next
request as soon as the previous one is answered, for a fixed time. Used for both the
hello-world ceiling and the maximum sustained heartbeat rate, so the two figures come
from the same client doing the same work and their ratio (R_http) compares servers."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.wire import Connection

MAX_REQUESTS_PER_CONNECTION = 10_000_000  # bound on the loop; time ends it long before


@dataclass
class Target:
    """One request shape: the path, headers, and a function making the next body."""

    path: str
    headers: dict[str, str]
    body: Callable[[], bytes]


@dataclass
class LoopResult:
    ok: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    elapsed: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "errors": dict(self.errors),
            "latencies_ms": [round(x, 3) for x in self.latencies_ms],
            "elapsed": self.elapsed,
        }


async def closed_loop(
    host: str,
    port: int,
    targets: Sequence[Target],
    *,
    duration: float,
    concurrency: int,
    local_ips: Sequence[str],
    on_ok: Callable[[Target, bytes], None] | None = None,
    request_limit: float = 10.0,
) -> LoopResult:
    result = LoopResult()
    if not targets:
        return result
    deadline = time.monotonic() + duration
    counter = iter(range(MAX_REQUESTS_PER_CONNECTION * concurrency))

    async def run(i: int) -> None:
        conn = Connection(host, port, local_ips[i % len(local_ips)])
        try:
            for _ in range(MAX_REQUESTS_PER_CONNECTION):
                if time.monotonic() >= deadline:
                    return
                target = targets[next(counter) % len(targets)]
                t0 = time.perf_counter()
                try:
                    reply = await conn.request(
                        "POST", target.path, target.body(), target.headers, time_limit=request_limit
                    )
                except Exception as exc:  # counted, never fatal: the loop measures errors
                    result.errors[type(exc).__name__] += 1
                    await asyncio.sleep(0.01)
                    continue
                if reply.status == 200:
                    result.ok += 1
                    result.latencies_ms.append((time.perf_counter() - t0) * 1000)
                    if on_ok is not None:
                        on_ok(target, reply.body)
                else:
                    result.errors[f"http {reply.status}"] += 1
        finally:
            await conn.close()

    start = time.monotonic()
    await asyncio.gather(*(run(i) for i in range(concurrency)))
    result.elapsed = time.monotonic() - start
    return result
