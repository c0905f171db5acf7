"""Garbage-collector settings of the server process, and how long its pauses are.

A full (generation 2) collection stops the event loop while it walks every tracked
object. A server holding thousands of agent sockets has hundreds of thousands of them;
with CPython's default thresholds the benchmark saw 350-420 ms pauses several times a
minute at 1,000 agents, which was nearly all of the heartbeat p99. Nearly every object
is freed by reference counting; the collector only exists for cycles. So:

* what exists once the app is built (modules, routes, schemas, the ORM's metadata) is
  collected once and frozen (`gc.freeze`): never scanned again;
* the first generation is collected after 50,000 allocations instead of 700, so the
  objects of requests in flight are far less often promoted into the oldest generation,
  which is what makes full collections come round.

`breeze_gc_pause_seconds` (by generation) shows the result on /metrics.

A launch for thousands of devices makes its objects in a burst (a row, an envelope and a
frame per device) that all live until its answer is built; a collection in the middle
walks every one of them, alive, besides freeing what other requests left.
`collections_deferred` holds collections off for the burst.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from prometheus_client import Histogram

GEN0_THRESHOLD = 50_000
# Allocations a burst may make before the first generation is collected all the same: a
# 10,000-device launch makes a few hundred thousand, so it is never collected midway,
# while garbage made meanwhile (other requests) stays bounded.
BURST_THRESHOLD = 2_000_000
PAUSES = Histogram(
    "breeze_gc_pause_seconds",
    "Time the garbage collector held the server's event loop",
    ["generation"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
_started: list[float] = []


def _timed(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _started[:] = [time.perf_counter()]
    elif _started:
        PAUSES.labels(str(info.get("generation", "?"))).observe(time.perf_counter() - _started[0])


def settle(young_threshold: int = GEN0_THRESHOLD) -> None:
    """Collect once, freeze what survives (never scanned again) and raise the first
    threshold. For long-running processes whose existing objects live on: the server
    after start-up, the benchmark's simulators after each growth of their fleet."""
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(young_threshold, gen1, gen2)


def tune_for_server(young_threshold: int = GEN0_THRESHOLD) -> None:
    """Freeze the startup objects, raise the first threshold, time every collection.
    For the long-running server process only (not for tests or one-shot commands)."""
    settle(young_threshold)
    if _timed not in gc.callbacks:
        gc.callbacks.append(_timed)


# One entry per open burst: the first generation's threshold when it began. Only the
# bottom one (before any burst) is ever restored; the length counts overlapping bursts.
_bursts: list[int] = []


@contextmanager
def collections_deferred(threshold: int = BURST_THRESHOLD) -> Iterator[None]:
    """Raise the first generation's threshold to `threshold` while the block runs; the
    threshold in force before is restored when the last of overlapping blocks ends (the
    next allocation then collects what piled up, once, after the burst). Ad-hoc, a
    10,000-device script launch spent 100-330 ms of its 0.7-1 s before the last frame
    left in collections: young ones (100-150 ms each) that walked its live rows and
    frames, and older ones (90-180 ms) they led to (bench/README.md, tenth round)."""
    young, older, oldest = gc.get_threshold()
    if not _bursts:
        gc.set_threshold(max(young, threshold), older, oldest)
    _bursts.append(young)
    try:
        yield
    finally:
        before = _bursts.pop()
        if not _bursts:
            _, older, oldest = gc.get_threshold()
            gc.set_threshold(before, older, oldest)
