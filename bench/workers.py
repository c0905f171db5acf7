"""The orchestrator's side of the simulator processes: start, call, merge, stop."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
STREAM_LIMIT = 256 * 1024 * 1024  # replies carry latency samples


class SimProc:
    """One `python -m bench.simulator` process; calls are one at a time."""

    def __init__(self, index: int, seed: int, deadline: float, log_path: Path) -> None:
        self.index, self.seed, self.deadline, self.log_path = index, seed, deadline, log_path
        self.proc: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()
        self._ids = itertools.count()

    async def start(self) -> None:
        log = self.log_path.open("ab")
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.simulator",
            "--index", str(self.index), "--seed", str(self.seed),
            "--deadline", str(int(self.deadline)),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=log,
            cwd=str(REPO), limit=STREAM_LIMIT,
        )  # fmt: skip
        log.close()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def call(self, op: str, wait_s: float = 120.0, **args: Any) -> dict[str, Any]:
        assert self.proc is not None
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        async with self._lock:
            req_id = next(self._ids)
            line = json.dumps({"id": req_id, "op": op, "args": args}) + "\n"
            self.proc.stdin.write(line.encode())
            await self.proc.stdin.drain()
            raw = await asyncio.wait_for(self.proc.stdout.readline(), wait_s)
        if not raw:
            raise RuntimeError(f"simulator {self.index} exited (see {self.log_path})")
        reply = json.loads(raw)
        if reply.get("id") != req_id or not reply.get("ok"):
            raise RuntimeError(f"simulator {self.index}: {op} failed: {reply.get('error')}")
        result: dict[str, Any] = reply["result"]
        return result

    async def stop(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        with contextlib.suppress(Exception):
            await self.call("shutdown", wait_s=30)
        with contextlib.suppress(Exception):
            if self.proc.stdin:
                self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 15)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()


class Sims:
    """All simulator processes, called together; their answers merged."""

    def __init__(self, count: int, seed: int, deadline: float, log_dir: Path) -> None:
        self.procs = [
            SimProc(i, seed, deadline, log_dir / f"simulator-{i}.log") for i in range(count)
        ]

    async def start(self) -> None:
        for p in self.procs:
            await p.start()

    async def each(self, op: str, wait_s: float = 120.0, **args: Any) -> list[dict[str, Any]]:
        return list(await asyncio.gather(*(p.call(op, wait_s, **args) for p in self.procs)))

    async def stats(self) -> dict[str, Any]:
        """Merged measurement window of every simulator (and the window restarts)."""
        merged: dict[str, Any] = {
            "hb_ok": 0, "hb_err": Counter(), "hb_ms": [], "enroll_ms": [],
            "inventory_ms": [], "other": Counter(), "ws_open": 0,
        }  # fmt: skip
        for part in await self.each("stats", reset=True):
            merged["hb_ok"] += part["hb_ok"]
            merged["hb_err"].update(part["hb_err"])
            merged["other"].update(part["other"])
            merged["ws_open"] += part["ws_open"]
            for k in ("hb_ms", "enroll_ms", "inventory_ms"):
                merged[k] += part[k]
        return merged

    async def received(self) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {}
        for part in await self.each("received"):
            out.update(part["received"])
        return out

    async def pause(self) -> int:
        """Stop periodic heartbeats, wait for those in flight; rows the server accepted."""
        return sum(part["total_ok"] for part in await self.each("pause"))

    async def resume(self) -> None:
        await self.each("resume")

    async def stop(self) -> None:
        await asyncio.gather(*(p.stop() for p in self.procs), return_exceptions=True)
