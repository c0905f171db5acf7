"""``breeze-agent`` as a subprocess: its JSON validates against breeze_protocol."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from breeze_agent import __version__
from breeze_protocol import PROTOCOL_VERSION, CollectReport


def agent(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "breeze_agent.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def report() -> CollectReport:
    proc = agent("collect", "--json", "--cpu-interval", "0.1")
    assert proc.returncode == 0, proc.stderr
    json.loads(proc.stdout)  # plain JSON first, then the schema
    return CollectReport.model_validate_json(proc.stdout)


def test_collect_json_has_every_section(report: CollectReport) -> None:
    inv = report.inventory
    assert report.protocol_version == inv.protocol_version == PROTOCOL_VERSION
    assert inv.agent_version == __version__
    assert inv.errors == {} and report.errors == {}
    for section in (inv.hardware, inv.os, inv.network, inv.disks, inv.software, inv.users):
        assert section is not None
    assert inv.remote_access is not None
    assert report.metrics is not None
    assert inv.software is not None and inv.software.items


def test_collect_json_section_filter() -> None:
    proc = agent("collect", "--json", "--section", "network", "--section", "metrics")
    assert proc.returncode == 0, proc.stderr
    report = CollectReport.model_validate_json(proc.stdout)
    assert report.inventory.network is not None and report.metrics is not None
    assert report.inventory.hardware is None and report.inventory.software is None


def test_unknown_section_is_a_usage_error() -> None:
    proc = agent("collect", "--json", "--section", "bogus")
    assert proc.returncode == 2
    assert "bogus" in proc.stderr


def test_version() -> None:
    proc = agent("--version")
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"breeze-agent {__version__} (protocol {PROTOCOL_VERSION})"


def test_human_output_and_field_declarations() -> None:
    proc = agent("collect", "--section", "hardware")
    assert proc.returncode == 0, proc.stderr
    assert "cpu_threads" in proc.stdout
    fields = json.loads(agent("fields", "--json").stdout)
    assert fields["hardware"]["ram_total_mb"]["unit"] == "MiB"
    assert fields["metrics"]["network_in_bytes"]["unit"] == "bytes"
    assert fields["metrics"]["cpu_percent"]["unit"] == "percent"
