"""The measured phases of a run: saturation, steps, command pushes, offline detection.

Every wait here has a deadline and every loop a count; nothing waits on the server
forever. Times compared across processes are wall-clock (time.time(), one machine).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench import gcpauses, procs
from bench.harness import ORG_SIZE, BenchServer, Console, pg_connect
from bench.report import checks, pct
from bench.workers import Sims

POLL = 0.25
MAX_POLLS = 100_000


@dataclass
class Ctx:
    cfg: dict[str, Any]
    sims: Sims
    server: BenchServer
    console: Console
    orgs: list[dict[str, Any]]
    script_id: str
    agents: int = 0
    stopped: set[str] = field(default_factory=set)
    list_errors: int = 0
    notes: list[str] = field(default_factory=list)


async def stored_rows(ctx: Ctx) -> int:
    conn = await pg_connect(ctx.server.db_url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM device_metrics"))
    finally:
        await conn.close()


async def quiesce(ctx: Ctx, within: float = 20.0) -> tuple[int, int, float]:
    """Pause heartbeats; once the server's buffer has flushed, (rows the server accepted,
    rows stored, when the last was stored). Heartbeats resume on `ctx.sims.resume()`."""
    sent = await ctx.sims.pause()
    deadline = time.monotonic() + within
    stored, reached = await stored_rows(ctx), time.time()
    for _ in range(MAX_POLLS):
        if stored >= sent or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
        now_stored = await stored_rows(ctx)
        if now_stored != stored:
            reached = time.time()
        stored = now_stored
    return sent, stored, reached


def summary(latencies: list[float]) -> dict[str, Any]:
    return {"p50_ms": pct(latencies, 50), "p99_ms": pct(latencies, 99)}


async def saturation(ctx: Ctx) -> dict[str, Any]:
    """Closed-loop heartbeats from the enrolled agents, periodic beats paused meanwhile."""
    cfg = ctx.cfg
    sent0, stored0, _ = await quiesce(ctx)
    start = time.time()
    usage = Usage(ctx)
    per_worker = max(1, cfg["saturate_concurrency"] // len(ctx.sims.procs))
    parts = await ctx.sims.each(
        "saturate",
        wait_s=cfg["saturate_s"] + 120,
        host="127.0.0.1",
        port=ctx.server.port,
        duration=cfg["saturate_s"],
        concurrency=per_worker,
    )
    ok = sum(p["ok"] for p in parts)
    used = usage.since(ok)
    sent1, stored1, reached = await quiesce(ctx)
    await ctx.sims.resume()
    errors = sum(sum(p["errors"].values()) for p in parts)
    elapsed = max(p["elapsed"] for p in parts)
    lat = [x for p in parts for x in p["latencies_ms"]]
    rows = stored1 - stored0
    return {
        "agents": ctx.agents,
        "concurrency": per_worker * len(ctx.sims.procs),
        "seconds": elapsed,
        "heartbeats_per_s": ok / elapsed if elapsed else 0.0,
        **summary(lat),
        "error_rate": errors / max(1, ok + errors),
        "error_kinds": _merge([p["errors"] for p in parts]),
        "rows_sent": sent1 - sent0,
        "rows_stored": rows,
        "rows_lost": max(0, (sent1 - sent0) - rows),
        "rows_stored_per_s": rows / max(1e-6, reached - start),
        **used,
    }


def _merge(counters: list[dict[str, int]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for c in counters:
        for k, v in c.items():
            out[k] = out.get(k, 0) + v
    return out


def split_new(ctx: Ctx, target: int) -> list[list[list[Any]]]:
    """Per simulator, [[enrollment key, count]] for the agents from ctx.agents to target:
    agent g joins org g // ORG_SIZE and simulator g % workers."""
    workers = len(ctx.sims.procs)
    plan: list[dict[str, int]] = [{} for _ in range(workers)]
    for g in range(ctx.agents, target):
        key = ctx.orgs[g // ORG_SIZE]["key"]
        plan[g % workers][key] = plan[g % workers].get(key, 0) + 1
    return [[[k, n] for k, n in p.items()] for p in plan]


async def grow(ctx: Ctx, target: int) -> dict[str, Any]:
    cfg = ctx.cfg
    added = target - ctx.agents
    ramp = max(cfg["ramp_min_s"], added / cfg["enroll_rate"])
    plans = split_new(ctx, target)
    parts = await asyncio.gather(
        *(
            p.call(
                "grow",
                wait_s=ramp + cfg["grow_timeout_s"] + 60,
                url=ctx.server.url,
                keys=plan,
                ramp=ramp,
                interval=cfg["interval_s"],
                jitter=cfg["jitter"],
                inventory_interval=cfg["inventory_interval_s"],
                start_within=cfg["grow_timeout_s"],
            )
            for p, plan in zip(ctx.sims.procs, plans, strict=True)
        )
    )
    ctx.agents = target
    return {
        "ramp_s": ramp,
        "elapsed_s": max(p["elapsed"] for p in parts),
        "enrolled": sum(p["enrolled"] for p in parts),
        "enroll_failed": sum(p["failed"] for p in parts),
    }


class Usage:
    """CPU and memory of the server, its PostgreSQL backends and the simulators."""

    def __init__(self, ctx: Ctx) -> None:
        self.ctx = ctx
        self.t = time.monotonic()
        self.server = procs.sample(ctx.server.pid)
        self.pg = procs.cpu_of(procs.postgres_backends(ctx.server.db_name))
        self.sims = procs.cpu_of([p.pid for p in ctx.sims.procs])
        self.system = procs.system_cpu()

    def since(self, beats: int) -> dict[str, Any]:
        ctx, dt = self.ctx, max(1e-6, time.monotonic() - self.t)
        server = procs.sample(ctx.server.pid)
        server_cpu = (server - self.server) if server and self.server else 0.0
        pg_now = procs.cpu_of(procs.postgres_backends(ctx.server.db_name))
        pg_cpu = sum(v - self.pg.get(pid, 0.0) for pid, v in pg_now.items())
        sim_now = procs.cpu_of([p.pid for p in ctx.sims.procs])
        sim_cpu = sum(v - self.sims.get(pid, 0.0) for pid, v in sim_now.items())
        busy, total = procs.system_cpu()
        machine = (busy - self.system[0]) / max(1.0, total - self.system[1])
        return {
            "server": {
                "rss_mb": (server.rss_bytes / 2**20) if server else None,
                "cpu_percent": 100 * server_cpu / dt,
                "cpu_ms_per_heartbeat": 1000 * server_cpu / beats if beats else None,
            },
            "postgres_backends": {
                "cpu_percent": 100 * pg_cpu / dt,
                "cpu_ms_per_heartbeat": 1000 * pg_cpu / beats if beats else None,
            },
            "simulators_cpu_percent": 100 * sim_cpu / dt,
            "machine_busy_percent": 100 * machine,
        }


async def device_list(ctx: Ctx, stop: asyncio.Event, period: float) -> list[float]:
    """GET /api/v1/devices (first page, default sort) every `period` until `stop`."""
    out: list[float] = []
    for _ in range(MAX_POLLS):
        if stop.is_set():
            break
        t0 = time.perf_counter()
        try:
            r: httpx.Response | None = await ctx.console.http.get(
                "/api/v1/devices", params={"per_page": 50}
            )
        except httpx.HTTPError:
            r = None
        if r is not None and r.status_code == 200:
            out.append((time.perf_counter() - t0) * 1000)
        else:
            ctx.list_errors += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), period)
    return out


async def targets(ctx: Ctx) -> list[tuple[str, str]]:
    parts = await ctx.sims.each("targets")
    return [(a, d) for p in parts for a, d in p["targets"] if d not in ctx.stopped]


async def collect(
    ctx: Ctx, sent: dict[str, float], within: float
) -> tuple[list[float], dict[str, int]]:
    """Wait until every command in `sent` (id → queued at) reached its agent."""
    got: dict[str, list[Any]] = {}
    deadline = time.monotonic() + within
    for _ in range(MAX_POLLS):
        got.update(await ctx.sims.received())
        if all(c in got for c in sent) or time.monotonic() > deadline:
            break
        await asyncio.sleep(POLL)
    lat = [(got[c][0] - t) * 1000 if c in got else float("inf") for c, t in sent.items()]
    via: dict[str, int] = {}
    for c in sent:
        if c in got:
            via[got[c][1]] = via.get(got[c][1], 0) + 1
    return lat, via


def push_figures(lat: list[float], via: dict[str, int], queue_s: float) -> dict[str, Any]:
    """Latencies of commands never received within the wait are infinite: a percentile
    that lands on one is reported as null (not measured: worse than the wait)."""
    got = [x for x in lat if x != float("inf")]

    def finite(value: float | None) -> float | None:
        return None if value is None or value == float("inf") else value

    return {
        "commands": len(lat),
        "received": len(got),
        "not_received": len(lat) - len(got),
        "p50_ms": finite(pct(lat, 50)),
        "p99_ms": finite(pct(lat, 99)),
        "max_ms": max(got) if got else None,
        "via": via,
        "queue_s": queue_s,
    }


async def push_one(ctx: Ctx, count: int) -> dict[str, Any]:
    """One command to one device at a time (queued → that agent has the envelope)."""
    pool = await targets(ctx)
    sent: dict[str, float] = {}
    t_start = time.monotonic()
    refused: dict[str, int] = {}
    for _agent, device in random.sample(pool, min(count, len(pool))):
        t0 = time.time()
        try:
            r = await ctx.console.http.post(
                f"/api/v1/devices/{device}/commands", json={"type": "collect_inventory"}
            )
        except httpx.HTTPError as exc:
            refused[type(exc).__name__] = refused.get(type(exc).__name__, 0) + 1
            continue
        if r.status_code == 201:
            sent[r.json()["id"]] = t0
        else:  # a failed queueing is a figure (and fails the push check), not a crash
            refused[f"http {r.status_code}"] = refused.get(f"http {r.status_code}", 0) + 1
        await asyncio.sleep(ctx.cfg["push_gap_s"])
    lat, via = await collect(ctx, sent, ctx.cfg["push_wait_s"])
    lat += [float("inf")] * sum(refused.values())
    return push_figures(lat, via, time.monotonic() - t_start) | {"queue_errors": refused}


async def broadcast(ctx: Ctx) -> dict[str, Any]:
    """The no-op script to every device at once: one batch per organization (a batch
    reaches at most 10,000 devices), all queued together."""
    live = {d for _a, d in await targets(ctx)}
    t0 = time.time()
    t_start = time.monotonic()
    answers = await asyncio.gather(
        *(
            ctx.console.ok(
                "POST",
                f"/api/v1/scripts/{ctx.script_id}/execute",
                201,
                json={"org_ids": [org["org_id"]]},
            )
            for org in ctx.orgs[: (ctx.agents - 1) // ORG_SIZE + 1]
        ),
        return_exceptions=True,
    )
    queued = time.monotonic() - t_start
    failed = [a for a in answers if isinstance(a, BaseException)]
    sent = {
        e["id"]: t0
        for a in answers
        if not isinstance(a, BaseException)
        for e in a["executions"]
        if e["device_id"] in live
    }
    lat, via = await collect(ctx, sent, max(ctx.cfg["push_wait_s"], len(sent) / 100))
    if failed:  # the devices of a refused batch never got their command
        ctx.notes.append(f"broadcast at {ctx.agents} agents: batch refused: {failed[0]}")
        lat += [float("inf")] * max(0, len(live) - len(sent))
    return push_figures(lat, via, queued) | {"queue_errors": [str(f)[:300] for f in failed]}


async def offline_probe(ctx: Ctx, count: int) -> dict[str, Any]:
    """Stop `count` agents; time until the device list shows each offline."""
    cfg = ctx.cfg
    per = max(1, count // len(ctx.sims.procs))
    parts = await ctx.sims.each("stop_agents", count=per)
    stopped = {s["device_id"]: s["last_ok"] for p in parts for s in p["stopped"]}
    ctx.stopped.update(stopped)
    threshold = cfg["offline_after_missed"] * cfg["interval_s"]
    deadline = time.monotonic() + threshold * 1.2 + 3 * cfg["sweep_s"] + 30
    seen: dict[str, float] = {}
    for _ in range(MAX_POLLS):
        if len(seen) == len(stopped) or time.monotonic() > deadline:
            break
        try:
            r = await ctx.console.http.get(
                "/api/v1/devices", params={"status": "offline", "per_page": 200}
            )
        except httpx.HTTPError:
            await asyncio.sleep(0.5)
            continue
        now = time.time()
        if r.status_code == 200:
            for item in r.json()["items"]:
                if item["id"] in stopped and item["id"] not in seen:
                    seen[item["id"]] = now
        await asyncio.sleep(0.5)
    delays = [seen[d] - stopped[d] for d in seen]
    return {
        "devices": len(stopped),
        "detected": len(seen),
        "agents": ctx.agents,
        "threshold_s": threshold,
        "sweep_s": cfg["sweep_s"],
        "delay_p50_s": pct(delays, 50),
        "delay_max_s": max(delays) if delays else None,
        "beyond_threshold_max_s": (max(delays) - threshold) if delays else None,
    }


def _requests(stats: dict[str, Any]) -> tuple[int, int]:
    """(requests, errors) of every kind the agents made in a window."""
    other = stats["other"]
    errors = sum(stats["hb_err"].values()) + sum(
        v for k, v in other.items() if "_error" in k or k == "command_bad_signature"
    )
    ok = stats["hb_ok"] + sum(v for k, v in other.items() if k.endswith("_ok") or k == "enrolled")
    return ok + errors, errors


async def step(ctx: Ctx, target: int, probe: int) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Grow to `target` agents, hold, measure; pushes; check every row was stored."""
    cfg = ctx.cfg
    await ctx.sims.stats()  # the step's windows start now
    growth = await grow(ctx, target)
    await asyncio.sleep(cfg["settle_s"])
    ramp_stats = await ctx.sims.stats()
    usage = Usage(ctx)
    gc_before = await gcpauses.read(ctx.console.http)
    probe_task = asyncio.create_task(offline_probe(ctx, probe)) if probe else None
    stop = asyncio.Event()
    lister = asyncio.create_task(device_list(ctx, stop, cfg["list_period_s"]))
    try:
        await asyncio.sleep(cfg["hold_s"])
        stop.set()
        hold = await ctx.sims.stats()
        gc_hold = gcpauses.between(gc_before, await gcpauses.read(ctx.console.http))
        list_ms = await lister
        used = usage.since(hold["hb_ok"])
        one = await push_one(ctx, cfg["push_one"])
        wide = await broadcast(ctx)
        await asyncio.sleep(cfg["settle_s"])  # acks and results of the broadcast
        offline = await probe_task if probe_task else None
    finally:
        for task in (lister, probe_task):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
    push_stats = await ctx.sims.stats()
    sent, stored, _ = await quiesce(ctx)
    await ctx.sims.resume()
    requests, errors = map(
        sum, zip(*(_requests(s) for s in (ramp_stats, hold, push_stats)), strict=True)
    )
    figures: dict[str, Any] = {
        "agents": target,
        "enrolled": growth["enrolled"],
        "enroll_failed": growth["enroll_failed"],
        "ramp_s": growth["ramp_s"],
        "grow_elapsed_s": growth["elapsed_s"],
        "enroll_p50_ms": pct(ramp_stats["enroll_ms"], 50),
        "enroll_p99_ms": pct(ramp_stats["enroll_ms"], 99),
        "inventory_p50_ms": pct(ramp_stats["inventory_ms"] + hold["inventory_ms"], 50),
        "inventory_p99_ms": pct(ramp_stats["inventory_ms"] + hold["inventory_ms"], 99),
        "ws_open": hold["ws_open"],
        "hold_s": cfg["hold_s"],
        "heartbeats": hold["hb_ok"],
        "heartbeats_per_s": hold["hb_ok"] / cfg["hold_s"],
        "heartbeat_p50_ms": pct(hold["hb_ms"], 50),
        "heartbeat_p99_ms": pct(hold["hb_ms"], 99),
        "heartbeat_max_ms": max(hold["hb_ms"]) if hold["hb_ms"] else None,
        "gc_during_hold": gc_hold,
        "requests": requests,
        "errors": errors,
        "error_rate": errors / max(1, requests),
        "error_kinds": {
            **{
                f"heartbeat {k}": v
                for k, v in (ramp_stats["hb_err"] + hold["hb_err"] + push_stats["hb_err"]).items()
            },
            **{
                k: v
                for k, v in (ramp_stats["other"] + hold["other"] + push_stats["other"]).items()
                if "error" in k or "closed" in k or "bad" in k or "unconfirmed" in k
            },
        },
        "rows_sent": sent,
        "rows_stored": stored,
        "rows_lost": max(0, sent - stored),
        "push_one": one,
        "push_broadcast": wide,
        "device_list": {
            "requests": len(list_ms),
            "errors": ctx.list_errors,
            "p50_ms": pct(list_ms, 50),
            "p95_ms": pct(list_ms, 95),
        },
        **used,
    }
    figures["checks"] = checks(figures)
    figures["passed"] = all(figures["checks"].values())
    return figures, offline
