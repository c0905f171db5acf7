"""The scale benchmark end to end at a tiny scale: a real server on a fresh PostgreSQL
database, 20 virtual agents through the real protocol, the ceilings, and the report.

It checks that the pipeline runs and that the report is complete (every figure present,
files parse), never the figures' values: timing belongs to `make bench`, not to CI.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from bench.harness import pg_admin_url, pg_reachable

from bench import report, run
from tests.agent.helpers import skip_or_fail
from tests.support.databases import backend

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_tiny_benchmark_writes_a_complete_report(tmp_path: Path) -> None:
    if backend() != "postgresql":
        pytest.skip("the benchmark is PostgreSQL-only; it runs in the PostgreSQL pass")
    why = asyncio.run(pg_reachable(pg_admin_url()))
    if why:
        skip_or_fail(why)

    assert run.main(["--profile", "tiny", "--out", str(tmp_path)]) == 0

    jsons = sorted(p for p in tmp_path.glob("*.json") if p.name != "latest.json")
    mds = sorted(p for p in tmp_path.glob("*.md") if p.name != "latest.md")
    assert len(jsons) == 1
    assert len(mds) == 1
    assert (tmp_path / "latest.md").read_text() == mds[0].read_text()
    result = json.loads(jsons[0].read_text())
    assert report.missing_figures(result) == []
    assert [s["agents"] for s in result["steps"]] == run.PROFILES["tiny"]["steps"]
    # The virtual agents really went through the protocol: enrolled, connected, beat,
    # received commands over the WebSocket, and every accepted row is accounted for.
    last = result["steps"][-1]
    assert last["enrolled"] > 0
    assert last["ws_open"] > 0
    assert last["heartbeats"] > 0
    assert last["push_broadcast"]["received"] > 0
    assert last["rows_stored"] > 0
    assert result["offline_detection"]["devices"] > 0
    # The server's collector pauses during the hold were read off its /metrics.
    assert last["gc_during_hold"] is not None
    text = mds[0].read_text()
    for heading in ("Ceilings and ratios", "Steps", "Offline detection", "R_http", "R_ingest"):
        assert heading in text


def test_report_names_missing_figures() -> None:
    """The completeness check itself: an empty report lacks every top-level figure."""
    missing = report.missing_figures({"steps": [{}]})
    assert "machine" in missing
    assert "steps[0].heartbeat_p99_ms" in missing
    assert report.pct([1.0, 2.0, 3.0, 4.0], 50) == 2.0
    assert report.pct([], 99) is None
