"""Metrics against /proc and df, sampled around the collector's own reading."""

from __future__ import annotations

import os
import time

from breeze_agent.collectors import metrics
from breeze_protocol import HeartbeatRequest
from tests.agent.helpers import meminfo_kb, require_tools, sh


def _proc_net_dev() -> tuple[int, int]:
    rx = tx = 0
    with open("/proc/net/dev", encoding="ascii") as fh:
        for line in fh.readlines()[2:]:
            name, _, data = line.partition(":")
            if name.strip() == "lo":
                continue
            cols = data.split()
            rx += int(cols[0])
            tx += int(cols[8])
    return rx, tx


def test_network_bytes_are_cumulative_counters() -> None:
    rx0, tx0 = _proc_net_dev()
    sample = metrics.collect(cpu_interval=0.05)
    rx1, tx1 = _proc_net_dev()
    assert rx0 <= sample.network_in_bytes <= rx1
    assert tx0 <= sample.network_out_bytes <= tx1


def test_memory_matches_meminfo() -> None:
    sample = metrics.collect(cpu_interval=0.05)
    total = meminfo_kb("MemTotal")
    used_mb = (total - meminfo_kb("MemAvailable")) // 1024
    assert abs(sample.ram_used_mb - used_mb) <= 256  # memory moves; 256 MiB of slack
    assert abs(sample.ram_percent - used_mb * 1024 / total * 100) <= 2


def test_process_count_matches_proc() -> None:
    before = sum(1 for d in os.listdir("/proc") if d.isdigit())
    sample = metrics.collect(cpu_interval=0.05)
    after = sum(1 for d in os.listdir("/proc") if d.isdigit())
    assert min(before, after) - 20 <= sample.process_count <= max(before, after) + 20


def test_disk_matches_df_for_root() -> None:
    require_tools("df")
    sample = metrics.collect(cpu_interval=0.05)
    used_k, avail_k = (int(x) for x in sh("df", "-k", "--output=used,avail", "/").split()[2:])
    assert sample.disk_percent is not None and sample.disk_used_gb is not None
    assert abs(sample.disk_percent - used_k / (used_k + avail_k) * 100) <= 1
    assert abs(sample.disk_used_gb - used_k / 2**20) <= 0.25


def test_cpu_interval_is_honoured() -> None:
    started = time.monotonic()
    sample = metrics.collect(cpu_interval=0.2)
    assert time.monotonic() - started >= 0.2
    assert 0 <= sample.cpu_percent <= 100


def test_heartbeat_body_validates() -> None:
    body = metrics.heartbeat(cpu_interval=0.05)
    again = HeartbeatRequest.model_validate_json(body.model_dump_json())
    assert again == body
    with open("/proc/uptime", encoding="ascii") as fh:
        assert abs(body.uptime_seconds - float(fh.read().split()[0])) <= 5
    assert body.pending_reboot == os.path.exists("/var/run/reboot-required")
