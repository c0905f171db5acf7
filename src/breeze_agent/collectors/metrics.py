"""Heartbeat metrics: CPU %, RAM %, system disk %, cumulative network bytes, process count.

Sources: psutil (cpu_percent over ``interval`` seconds, virtual_memory, disk_usage of the
system filesystem, net_io_counters per interface excluding loopback, pids); pending reboot
from /var/run/reboot-required (Debian/Ubuntu) for the heartbeat body.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import psutil  # type: ignore[import-untyped]  # no stubs in the venv (types-psutil)

from breeze_agent import __version__
from breeze_agent.collectors.os_info import boot_time
from breeze_agent.collectors.users import logged_in
from breeze_protocol import HeartbeatMetrics, HeartbeatRequest, field_specs

SECTION = "metrics"
MODEL = HeartbeatMetrics
FIELDS = field_specs(HeartbeatMetrics)

DEFAULT_CPU_INTERVAL = 1.0


def system_mountpoint() -> str:
    if sys.platform == "win32":
        return os.environ.get("SYSTEMDRIVE", "C:") + "\\"
    return "/"


def _is_loopback(name: str) -> bool:
    return name == "lo" or name.startswith("lo0") or name.lower().startswith("loopback")


def network_bytes() -> tuple[int, int]:
    """(received, sent) bytes since boot, summed over non-loopback interfaces."""
    counters = psutil.net_io_counters(pernic=True) or {}
    rx = sum(int(c.bytes_recv) for n, c in counters.items() if not _is_loopback(n))
    tx = sum(int(c.bytes_sent) for n, c in counters.items() if not _is_loopback(n))
    return rx, tx


def collect(cpu_interval: float = DEFAULT_CPU_INTERVAL) -> HeartbeatMetrics:
    """One sample; blocks for ``cpu_interval`` seconds to measure CPU use."""
    cpu = float(psutil.cpu_percent(interval=cpu_interval))
    mem = psutil.virtual_memory()
    total, available = int(mem.total), int(mem.available)
    used = max(0, total - available)
    try:
        disk = psutil.disk_usage(system_mountpoint())
        disk_percent: float | None = float(disk.percent)
        disk_used_gb: float | None = round(int(disk.used) / 2**30, 2)
    except OSError:
        disk_percent = disk_used_gb = None
    rx, tx = network_bytes()
    return HeartbeatMetrics(
        cpu_percent=min(100.0, max(0.0, cpu)),
        ram_percent=round(used / total * 100, 1) if total else 0.0,
        ram_used_mb=used // 2**20,
        disk_percent=disk_percent,
        disk_used_gb=disk_used_gb,
        network_in_bytes=rx,
        network_out_bytes=tx,
        process_count=len(psutil.pids()),
    )


def pending_reboot() -> bool:
    return Path("/var/run/reboot-required").exists()


def heartbeat(cpu_interval: float = DEFAULT_CPU_INTERVAL) -> HeartbeatRequest:
    """A complete heartbeat body, ready for the transport a later session wires up."""
    sessions = sorted(logged_in(), key=lambda s: s.started.timestamp() if s.started else 0.0)
    booted = boot_time()
    uptime = int(time.time() - booted.timestamp())
    return HeartbeatRequest(
        agent_version=__version__,
        metrics=collect(cpu_interval),
        pending_reboot=pending_reboot(),
        last_user=sessions[-1].username if sessions else None,
        uptime_seconds=max(0, uptime),
    )
