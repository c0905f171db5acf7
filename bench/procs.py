"""Process plumbing shared by the orchestrator and the simulator: file-descriptor limits,
dying with the parent, and CPU / memory of a process read from /proc."""

from __future__ import annotations

import ctypes
import os
import resource
import signal
from dataclasses import dataclass
from pathlib import Path

PR_SET_PDEATHSIG = 1
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def raise_fd_limit() -> int:
    """Soft open-file limit up to the hard one (raising the hard one needs privileges a
    container rarely has); returns the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1_048_576
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def die_with_parent() -> None:
    """Linux: get SIGTERM when the parent dies, so no simulator or server outlives a
    killed orchestrator. Also usable as a Popen preexec_fn."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


def child_setup() -> None:
    """preexec_fn of the servers the benchmark starts."""
    die_with_parent()
    raise_fd_limit()


@dataclass(frozen=True)
class ProcSample:
    cpu_seconds: float
    rss_bytes: int

    def __sub__(self, other: ProcSample) -> float:
        return self.cpu_seconds - other.cpu_seconds


def sample(pid: int) -> ProcSample | None:
    """User + system CPU time and resident memory of one process (None once it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        statm = Path(f"/proc/{pid}/statm").read_text().split()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    utime, stime = int(fields[11]), int(fields[12])
    return ProcSample((utime + stime) / CLOCK_TICKS, int(statm[1]) * PAGE_SIZE)


def postgres_backends(database: str) -> list[int]:
    """Pids of the PostgreSQL backends serving `database` (their title names it)."""
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if title.startswith("postgres: ") and f" {database} " in title:
            found.append(int(entry.name))
    return found


def cpu_of(pids: list[int]) -> dict[int, float]:
    out: dict[int, float] = {}
    for pid in pids:
        s = sample(pid)
        if s is not None:
            out[pid] = s.cpu_seconds
    return out


def system_cpu() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    parts = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = parts[3] + (parts[4] if len(parts) > 4 else 0)
    total = sum(parts[:8])
    return float(total - idle), float(total)
