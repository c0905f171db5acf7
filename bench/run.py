"""The Breeze scale benchmark: ceilings, saturation, then steps of agents; one report.

    python -m bench.run --profile small     # make bench: ~2,000 agents, a few minutes
    python -m bench.run --profile full      # make bench-full: 1,000 → 50,000 agents
    python -m bench.run --profile tiny      # the test suite's smoke run (seconds)

Everything it starts (database, server, hello-world server, simulators) is stopped and
dropped on the way out, on failure and on Ctrl-C too; children also die with it
(PR_SET_PDEATHSIG). See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shlex
import shutil
import signal
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import phases, procs, report
from bench.ceilings import HelloServer, copy_rate
from bench.harness import (
    ORG_SIZE,
    BenchServer,
    Console,
    create_database,
    drop_database,
    pg_admin_url,
    pg_connect,
)
from bench.workers import Sims

FD_MARGIN = 1_000  # files the server / a simulator needs besides one socket per agent

PROFILES: dict[str, dict[str, Any]] = {
    "tiny": {
        "steps": [10, 20], "interval_s": 5, "jitter": 0.1, "hold_s": 4, "settle_s": 1,
        "ramp_min_s": 1, "enroll_rate": 50, "grow_timeout_s": 60, "workers": 1,
        "hello_s": 1.5, "saturate_s": 1.5, "saturate_concurrency": 4, "copy_rows": 5_000,
        "push_one": 3, "push_gap_s": 0.05, "push_wait_s": 10, "list_period_s": 0.5,
        "offline_probe": 2, "offline_after_missed": 2, "sweep_s": 0.5,
        "inventory_interval_s": 60, "deadline_s": 600,
    },
    "small": {
        "steps": [1_000, 2_000], "interval_s": 60, "jitter": 0.1, "hold_s": 60,
        "settle_s": 5, "ramp_min_s": 10, "enroll_rate": 100, "grow_timeout_s": 600,
        "workers": 2, "hello_s": 10, "saturate_s": 15, "saturate_concurrency": 32,
        "copy_rows": 100_000, "push_one": 20, "push_gap_s": 0.2, "push_wait_s": 15,
        "list_period_s": 0.5, "offline_probe": 4, "offline_after_missed": 2, "sweep_s": 5,
        "inventory_interval_s": 3600, "deadline_s": 3600,
    },
    "full": {
        "steps": [1_000, 5_000, 10_000, 20_000, 50_000], "interval_s": 60, "jitter": 0.1,
        "hold_s": 120, "settle_s": 10, "ramp_min_s": 10, "enroll_rate": 100,
        "grow_timeout_s": 1800, "workers": 2, "hello_s": 20, "saturate_s": 30,
        "saturate_concurrency": 64, "copy_rows": 500_000, "push_one": 50, "push_gap_s": 0.2,
        "push_wait_s": 20, "list_period_s": 0.5, "offline_probe": 6,
        "offline_after_missed": 2, "sweep_s": 5, "inventory_interval_s": 3600,
        "deadline_s": 4 * 3600,
    },
}  # fmt: skip


def server_env(cfg: dict[str, Any]) -> dict[str, str]:
    return {
        "BREEZE_AGENTS__HEARTBEAT_INTERVAL_SECONDS": str(int(cfg["interval_s"])),
        "BREEZE_AGENTS__OFFLINE_AFTER_MISSED": str(cfg["offline_after_missed"]),
        "BREEZE_AGENTS__PRESENCE_SWEEP_SECONDS": str(cfg["sweep_s"]),
        "BREEZE_AGENTS__INVENTORY_INTERVAL_SECONDS": str(int(cfg["inventory_interval_s"])),
    }


async def machine(fd_limit: int) -> dict[str, Any]:
    conn = await pg_connect(pg_admin_url())
    try:
        pg = str(await conn.fetchval("SELECT version()")).split(" on ")[0]
    finally:
        await conn.close()
    mem = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return {
        "cpus": os.cpu_count(),
        "memory_gb": mem / 2**30,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "postgresql": pg,
        "fd_limit": fd_limit,
    }


def feasible(agents: int, cfg: dict[str, Any], fd_limit: int) -> str | None:
    """Why a step cannot run here (one socket per agent on the server), or None."""
    per_sim = agents / cfg["workers"]
    if agents + FD_MARGIN > fd_limit or per_sim + FD_MARGIN > fd_limit:
        return (
            f"needs {agents + FD_MARGIN:,} open files in the server process; the hard "
            f"RLIMIT_NOFILE here is {fd_limit:,}"
        )
    return None


async def ceilings(cfg: dict[str, Any], sims: Sims) -> dict[str, Any]:
    with HelloServer() as hello:
        per_worker = max(1, cfg["saturate_concurrency"] // cfg["workers"])
        parts = await sims.each(
            "hello",
            wait_s=cfg["hello_s"] + 60,
            host="127.0.0.1",
            port=hello.port,
            duration=cfg["hello_s"],
            concurrency=per_worker,
        )
    ok = sum(p["ok"] for p in parts)
    errors = sum(sum(p["errors"].values()) for p in parts)
    elapsed = max(p["elapsed"] for p in parts)
    lat = [x for p in parts for x in p["latencies_ms"]]
    return {
        "hello": {
            "requests_per_s": ok / elapsed if elapsed else 0.0,
            **phases.summary(lat),
            "error_rate": errors / max(1, ok + errors),
            "concurrency": per_worker * cfg["workers"],
            "seconds": elapsed,
        },
        "copy": await copy_rate(cfg["copy_rows"]),
    }


async def measure(cfg: dict[str, Any], work: Path, command: str) -> dict[str, Any]:
    fd_limit = procs.raise_fd_limit()
    started = datetime.now(UTC)
    t0 = time.monotonic()
    out: dict[str, Any] = {
        "schema": 1,
        "started_at": started.isoformat(timespec="seconds"),
        "machine": await machine(fd_limit),
        "notes": [],
    }
    runnable = [n for n in cfg["steps"] if feasible(n, cfg, fd_limit) is None]
    skipped = [
        {"agents": n, "reason": feasible(n, cfg, fd_limit)}
        for n in cfg["steps"]
        if n not in runnable
    ]
    out["config"] = {
        **{k: v for k, v in cfg.items() if k != "steps"},
        "steps": cfg["steps"],
        "server_env": server_env(cfg),
        "command": command,
    }
    sims = Sims(cfg["workers"], seed=1, deadline=cfg["deadline_s"], log_dir=work)
    db_name, db_url = await create_database("breeze_bench")
    server = BenchServer(work / "server", db_name, db_url, server_env(cfg))
    console: Console | None = None
    try:
        await sims.start()
        out["ceilings"] = await ceilings(cfg, sims)
        await asyncio.to_thread(server.start)
        console = Console(server.url)
        await console.login()
        largest = max(runnable, default=0)
        partner, orgs = await console.tenant_keys(max(1, (largest - 1) // ORG_SIZE + 1))
        script = await console.noop_script(partner)
        ctx = phases.Ctx(cfg, sims, server, console, orgs, script)
        steps: list[dict[str, Any]] = []
        offline: dict[str, Any] | None = None
        for i, n in enumerate(runnable):
            last = i == len(runnable) - 1
            figures, probe = await phases.step(ctx, n, cfg["offline_probe"] if last else 0)
            steps.append(figures)
            offline = probe or offline
            print(f"step {n}: {json.dumps(_brief(figures))}", file=sys.stderr, flush=True)
            if i == 0:
                out["saturation"] = await phases.saturation(ctx)
                print(f"saturation: {out['saturation']}", file=sys.stderr, flush=True)
        out["steps"], out["skipped_steps"] = steps, skipped
        out["offline_detection"] = offline or {}
        sat, ceil = out["saturation"], out["ceilings"]
        out["ratios"] = {
            "R_http": sat["heartbeats_per_s"] / max(1e-9, ceil["hello"]["requests_per_s"]),
            "R_ingest": sat["rows_stored_per_s"] / max(1e-9, ceil["copy"]["rows_per_s"]),
        }
        out["largest_passing_step"] = report.largest_passing(steps)
        out["targets"] = report.TARGETS
        out["notes"] += ctx.notes
    finally:
        if console is not None:
            await console.close()
        await sims.stop()
        await asyncio.to_thread(server.stop)
        out["server_log_tail"] = server.log_tail(20)
        await drop_database(db_name)
    out["duration_s"] = time.monotonic() - t0
    return out


def _brief(s: dict[str, Any]) -> dict[str, Any]:
    keys = ("agents", "ws_open", "heartbeats_per_s", "heartbeat_p50_ms", "heartbeat_p99_ms",
            "error_rate", "rows_sent", "rows_stored", "passed", "checks")  # fmt: skip
    return {k: s.get(k) for k in keys} | {
        "push_one_p99": s["push_one"]["p99_ms"],
        "broadcast_p99": s["push_broadcast"]["p99_ms"],
        "list_p95": s["device_list"]["p95_ms"],
        "server": s["server"],
    }


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Breeze scale benchmark")
    parser.add_argument("--profile", choices=sorted(PROFILES), default="small")
    parser.add_argument("--steps", help="comma-separated agent counts (overrides the profile)")
    parser.add_argument("--hold", type=float, help="seconds each step is held")
    parser.add_argument("--workers", type=int, help="simulator processes")
    parser.add_argument("--saturate", type=float, help="seconds of the saturation phase")
    parser.add_argument(
        "--offline-probe", type=int, help="agents stopped for offline detection (0: none)"
    )
    parser.add_argument("--out", type=Path, default=report.RESULTS, help="results directory")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    cfg = {"profile": args.profile, **PROFILES[args.profile]}
    if args.steps:
        cfg["steps"] = [int(x) for x in args.steps.split(",")]
    if args.hold:
        cfg["hold_s"] = args.hold
    if args.workers:
        cfg["workers"] = args.workers
    if args.saturate:
        cfg["saturate_s"] = args.saturate
    if args.offline_probe is not None:
        cfg["offline_probe"] = args.offline_probe
    command = "python -m bench.run " + shlex.join(sys.argv[1:] if argv is None else argv)
    with tempfile.TemporaryDirectory(prefix="breeze-bench-") as tmp:
        try:
            result = asyncio.run(_guarded(measure(cfg, Path(tmp), command)))
        except (asyncio.CancelledError, KeyboardInterrupt):
            print("benchmark interrupted; what it started was stopped", file=sys.stderr)
            return 130
        except Exception:
            kept = _keep_logs(Path(tmp), args.out)
            print(f"benchmark failed; server and simulator logs kept in {kept}", file=sys.stderr)
            raise
    json_path, md_path = report.write(result, args.out)
    print(md_path.read_text())
    print(f"written: {json_path} {md_path} {args.out / 'latest.md'}")
    return 0


def _keep_logs(work: Path, out: Path) -> Path:
    """A failed run's logs, copied out of its temporary directory before it goes."""
    dest = out / f"failed-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}"
    dest.mkdir(parents=True, exist_ok=True)
    for log in [*work.glob("*.log"), *work.glob("server/*.log")]:
        shutil.copy(log, dest / log.name)
    return dest


async def _guarded(coro: Any) -> Any:
    """SIGTERM / SIGINT cancel the run, so its finally blocks stop what it started."""
    task = asyncio.ensure_future(coro)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    return await task


if __name__ == "__main__":
    sys.exit(main())
