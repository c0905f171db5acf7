"""Ceilings: what this machine does with no Breeze code in the way.

* HTTP: a bare ASGI hello-world served by uvicorn with the settings `breeze server` uses
  (one process, uvloop + httptools when installed, proxy headers on, no access log),
  loaded by the same closed-loop client with the same heartbeat bodies.
* Ingest: COPY of metric rows into `device_metrics` of a scratch database migrated like
  the real one (partitioned table, same indexes), in batches like the server's flush.

``python -m bench.ceilings hello --port N`` runs the hello-world server.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.harness import (
    breeze_env,
    create_database,
    drop_database,
    free_port,
    migrate,
    pg_connect,
    stop_process,
    wait_ready,
)
from bench.procs import child_setup

HELLO_BODY = b'{"commands":[],"config_update":null,"upgrade_to":null}'
COLUMNS = (
    "device_id", "timestamp", "cpu_percent", "ram_percent", "ram_used_mb", "disk_percent",
    "disk_used_gb", "network_in_bytes", "network_out_bytes", "process_count", "custom",
)  # fmt: skip

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


async def hello_app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    """Reads the request body (as the real endpoint must) and answers a fixed JSON body."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = bool(message.get("more_body"))
    body = b'{"status":"ok"}' if scope["path"] == "/ready" else HELLO_BODY
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def serve_hello(port: int) -> None:
    import uvicorn

    # The keyword arguments of breeze.cli.server, minus the app.
    uvicorn.run(
        hello_app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
        access_log=False,
    )


class HelloServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> HelloServer:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.ceilings", "hello", "--port", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=child_setup,
        )
        wait_ready(f"http://127.0.0.1:{self.port}/ready", self.process, lambda: "", 30)
        return self

    def __exit__(self, *exc: object) -> None:
        stop_process(self.process)


def _records(count: int, devices: int) -> list[tuple[Any, ...]]:
    rng = random.Random(7)
    ids = [uuid.uuid4() for _ in range(devices)]
    start = datetime.now(UTC) - timedelta(hours=1)
    return [
        (
            ids[i % devices],
            start + timedelta(microseconds=i),
            rng.uniform(0, 100),
            rng.uniform(0, 100),
            rng.randrange(100, 16000),
            rng.uniform(0, 100),
            rng.uniform(1, 400),
            rng.randrange(10**9),
            rng.randrange(10**8),
            rng.randrange(100, 400),
            None,
        )
        for i in range(count)
    ]


async def _daily_partitions(url: str) -> None:
    """The daily partitions the server's maintenance task makes, so COPY lands where the
    server's own inserts land (not in the DEFAULT partition)."""
    from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

    from breeze.metrics.storage import create_partition

    engine = create_async_engine(url)
    try:
        async with AsyncSession(engine) as session:
            today = datetime.now(UTC).date()
            for offset in (-1, 0, 1):
                await create_partition(session, today + timedelta(days=offset))
                await session.commit()  # its temporary table is dropped on commit
    finally:
        await engine.dispose()


async def copy_rate(rows: int, batch: int = 5000, devices: int = 10_000) -> dict[str, Any]:
    """Rows/s of COPY into device_metrics (one transaction per batch of `batch` rows)."""
    name, url = await create_database("breeze_bench_copy")
    try:
        with tempfile.TemporaryDirectory(prefix="bench-copy-") as tmp:
            env = breeze_env(Path(tmp), url, 8000, {})
            await asyncio.to_thread(migrate, env)
        await _daily_partitions(url)
        records = _records(rows, min(devices, rows))
        conn = await pg_connect(url)
        try:
            t0 = time.perf_counter()
            for start in range(0, rows, batch):
                await conn.copy_records_to_table(
                    "device_metrics", records=records[start : start + batch], columns=COLUMNS
                )
            elapsed = time.perf_counter() - t0
            stored = await conn.fetchval("SELECT count(*) FROM device_metrics")
        finally:
            await conn.close()
    finally:
        await drop_database(name)
    return {
        "rows": rows,
        "batch_rows": batch,
        "stored": int(stored),
        "seconds": elapsed,
        "rows_per_s": rows / elapsed if elapsed else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="Benchmark ceilings")
    sub = parser.add_subparsers(dest="cmd", required=True)
    hello = sub.add_parser("hello", help="serve the hello-world ASGI app")
    hello.add_argument("--port", type=int, required=True)
    copy = sub.add_parser("copy", help="measure the COPY rate once")
    copy.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    if args.cmd == "hello":
        child_setup()
        serve_hello(args.port)
    else:
        print(asyncio.run(copy_rate(args.rows)))


if __name__ == "__main__":
    main()
