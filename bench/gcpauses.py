"""Garbage-collector pauses of the server during a window, from its /metrics histogram
(`breeze_gc_pause_seconds`, per generation): a collection holds the event loop, so a
long one shows up as a heartbeat latency tail."""

from __future__ import annotations

import math
import re
from typing import Any

import httpx

METRIC = "breeze_gc_pause_seconds"
_LINE = re.compile(
    METRIC + r'_(bucket|count|sum)\{generation="([^"]+)"(?:,le="([^"]+)")?\} ([0-9.e+-]+|NaN)'
)

# {generation: {"count": n, "sum": seconds, "buckets": {upper bound: cumulative count}}}
Pauses = dict[str, dict[str, Any]]


def parse(text: str) -> Pauses:
    out: Pauses = {}
    for kind, generation, bound, value in _LINE.findall(text):
        gen = out.setdefault(generation, {"count": 0.0, "sum": 0.0, "buckets": {}})
        if kind == "bucket":
            gen["buckets"][float(bound)] = float(value)
        else:
            gen[kind] = float(value)
    return out


async def read(http: httpx.AsyncClient) -> Pauses | None:
    """The server's pause histogram now; None when /metrics cannot be read."""
    try:
        response = await http.get("/metrics", timeout=10)
    except httpx.HTTPError:
        return None
    return parse(response.text) if response.status_code == 200 else None


def between(before: Pauses | None, after: Pauses | None) -> dict[str, Any] | None:
    """Collections per generation in the window: how many, seconds paused in all, and
    the bucket bound the longest stayed under (ms; inf: above the largest bucket)."""
    if before is None or after is None:
        return None
    out: dict[str, Any] = {}
    for generation, now in sorted(after.items()):
        then = before.get(generation, {"count": 0.0, "sum": 0.0, "buckets": {}})
        count = int(now["count"] - then["count"])
        longest = None
        if count:
            longest = next(
                (
                    bound * 1000
                    for bound, cumulative in sorted(now["buckets"].items())
                    if cumulative - then["buckets"].get(bound, 0.0) >= count
                ),
                math.inf,
            )
        out[generation] = {
            "collections": count,
            "paused_s": now["sum"] - then["sum"],
            "longest_under_ms": longest,
        }
    return out
