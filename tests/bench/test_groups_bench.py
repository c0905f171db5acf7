"""The targeting benchmark end to end at a tiny scale (200 devices) on a scratch
PostgreSQL database: it checks that the report is produced with every figure, never the
figures' values (timing belongs to the benchmark run, not to CI)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from bench.harness import pg_admin_url, pg_reachable

from bench import groups_bench
from tests.agent.helpers import skip_or_fail
from tests.support.databases import backend

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_tiny_targeting_benchmark_writes_a_complete_report(tmp_path: Path) -> None:
    if backend() != "postgresql":
        pytest.skip("the benchmark is PostgreSQL-only; it runs in the PostgreSQL pass")
    why = asyncio.run(pg_reachable(pg_admin_url()))
    if why:
        skip_or_fail(why)

    argv = ["--devices", "200", "--packages", "120", "--runs", "2", "--out", str(tmp_path)]
    assert groups_bench.main(argv) == 0

    (report,) = tmp_path.glob("groups-*.json")
    result = json.loads(report.read_text())
    assert groups_bench.missing_figures(result) == []
    assert result["counts"]["devices"] == 200 and result["counts"]["software_rows"] > 0
    markdown = report.with_suffix(".md").read_text()
    assert all(f"| {name} |" in markdown for name in groups_bench.FIGURES)
