"""Figures → bench/results/<timestamp>.json and .md, and bench/results/latest.md.

The JSON is the record (every figure, the configuration, the machine); the markdown is
what the README quotes. ``REQUIRED`` lists every figure a complete report carries: the
tiny-scale test checks the report against it, not the values.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
TARGETS = {
    "heartbeat_p99_ms": 100.0,
    "error_rate": 0.001,
    "rows_lost": 0,
    "push_p99_ms": 1000.0,
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "": ("machine", "config", "ceilings", "saturation", "ratios", "steps",
         "offline_detection", "largest_passing_step", "targets"),
    "ceilings.hello": ("requests_per_s", "p50_ms", "p99_ms", "error_rate"),
    "ceilings.copy": ("rows_per_s", "rows", "batch_rows"),
    "saturation": ("heartbeats_per_s", "p50_ms", "p99_ms", "error_rate", "rows_sent",
                   "rows_stored", "rows_lost", "rows_stored_per_s"),
    "ratios": ("R_http", "R_ingest"),
    "offline_detection": ("devices", "detected", "threshold_s", "sweep_s", "delay_p50_s",
                          "delay_max_s"),
    "steps[]": ("agents", "enrolled", "ws_open", "heartbeats", "heartbeats_per_s",
                "heartbeat_p50_ms", "heartbeat_p99_ms", "error_rate", "rows_sent",
                "rows_stored", "rows_lost", "push_one", "push_broadcast", "device_list",
                "server", "passed", "checks"),
    "steps[].push_one": ("commands", "received", "p50_ms", "p99_ms"),
    "steps[].push_broadcast": ("commands", "received", "p50_ms", "p99_ms"),
    "steps[].device_list": ("requests", "p50_ms", "p95_ms"),
    "steps[].server": ("rss_mb", "cpu_ms_per_heartbeat", "cpu_percent"),
}  # fmt: skip


def pct(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (nearest rank); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return float(ordered[min(rank, len(ordered)) - 1])


def missing_figures(report: dict[str, Any]) -> list[str]:
    """Names of required figures absent from `report` (empty when complete)."""
    missing: list[str] = []
    for where, keys in REQUIRED.items():
        for obj, label in _objects(report, where):
            missing += [f"{label}.{k}".lstrip(".") for k in keys if k not in obj]
    return missing


def _objects(report: dict[str, Any], where: str) -> list[tuple[dict[str, Any], str]]:
    if not where:
        return [(report, "")]
    objs: list[tuple[Any, str]] = [(report, "")]
    for part in where.split("."):
        many = part.endswith("[]")
        name = part.removesuffix("[]")
        nxt: list[tuple[Any, str]] = []
        for obj, label in objs:
            value = obj.get(name) if isinstance(obj, dict) else None
            if many:
                nxt += [(v, f"{label}.{name}[{i}]") for i, v in enumerate(value or [])]
            else:
                nxt.append((value, f"{label}.{name}"))
        objs = nxt
    return [(o if isinstance(o, dict) else {}, label) for o, label in objs]


def checks(step: dict[str, Any]) -> dict[str, bool]:
    p99s = [step["push_one"].get("p99_ms"), step["push_broadcast"].get("p99_ms")]
    return {
        "heartbeat_p99": (step["heartbeat_p99_ms"] or math.inf) < TARGETS["heartbeat_p99_ms"],
        "errors": step["error_rate"] < TARGETS["error_rate"],
        "no_row_lost": step["rows_lost"] == 0,
        "push_p99": all(p is not None and p < TARGETS["push_p99_ms"] for p in p99s),
    }


def largest_passing(steps: Sequence[dict[str, Any]]) -> int | None:
    passing = [s["agents"] for s in steps if s.get("passed")]
    return max(passing) if passing else None


def finite(value: Any) -> Any:
    """The report with every non-finite float as null: strict JSON everywhere."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite(v) for v in value]
    return value


def write(report: dict[str, Any], out_dir: Path = RESULTS) -> tuple[Path, Path]:
    report = finite(report)
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = report["started_at"].replace(":", "").replace("-", "").split(".")[0]
    json_path = out_dir / f"{stamp}.json"
    md_path = out_dir / f"{stamp}.md"
    json_path.write_text(json.dumps(report, indent=2, sort_keys=True, allow_nan=False) + "\n")
    text = markdown(report)
    md_path.write_text(text)
    (out_dir / "latest.md").write_text(text)
    (out_dir / "latest.json").write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    return json_path, md_path


def _f(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _gc_lines(steps: Sequence[dict[str, Any]]) -> list[str]:
    """One line per step: the server's garbage collections during the hold (each one
    holds the event loop, so a long one is a heartbeat latency tail)."""
    lines = []
    for s in steps:
        gc = s.get("gc_during_hold")
        if not gc:
            continue
        parts = []
        for generation, g in gc.items():
            if not g["collections"]:
                continue
            longest = g["longest_under_ms"]
            bound = f"< {_f(longest, 0)} ms" if longest is not None else "> 2,500 ms"
            parts.append(
                f"gen {generation}: {g['collections']} ({_f(g['paused_s'] * 1000, 0)} ms in all, "
                f"longest {bound})"
            )
        lines.append(
            f"- GC during the {_f(s['agents'])}-agent hold: " + ("; ".join(parts) or "none")
        )
    return lines


def markdown(r: dict[str, Any]) -> str:
    c, m = r["config"], r["machine"]
    hello, copy = r["ceilings"]["hello"], r["ceilings"]["copy"]
    sat, ratios = r["saturation"], r["ratios"]
    off = r["offline_detection"]
    best = r["largest_passing_step"]
    lines = [
        f"# Breeze scale benchmark — {r['started_at']} ({c['profile']})",
        "",
        f"**Largest step with every target held: {f'{best:,} agents' if best else 'none'}** "
        f"(heartbeat p99 < {TARGETS['heartbeat_p99_ms']:.0f} ms, errors < "
        f"{TARGETS['error_rate'] * 100:.1f} %, no metric row lost, push p99 < "
        f"{TARGETS['push_p99_ms'] / 1000:.0f} s).",
        "",
        f"Machine: {m['cpus']} CPUs, {m['memory_gb']:.0f} GiB, {m['kernel']}, Python "
        f"{m['python']}, {m['postgresql']}; server, PostgreSQL and {c['workers']} simulator "
        f"processes on the same box. Open-file limit {m['fd_limit']}. Run took "
        f"{r['duration_s'] / 60:.1f} min.",
        "",
        "## Ceilings and ratios",
        "",
        "| figure | value |",
        "| --- | --- |",
        f"| hello-world ASGI (uvicorn, same settings), requests/s | {_f(hello['requests_per_s'])} "
        f"(p50 {_f(hello['p50_ms'], 2)} ms, p99 {_f(hello['p99_ms'], 2)} ms) |",
        f"| raw COPY into device_metrics, rows/s | {_f(copy['rows_per_s'], 0)} |",
        f"| max sustained heartbeats/s ({c['saturate_concurrency']} connections) | "
        f"{_f(sat['heartbeats_per_s'])} (p50 {_f(sat['p50_ms'], 2)} ms, p99 "
        f"{_f(sat['p99_ms'], 2)} ms, errors {_f(sat['error_rate'] * 100, 3)} %) |",
        f"| metric rows stored/s at that rate | {_f(sat['rows_stored_per_s'])} "
        f"(sent {_f(sat['rows_sent'])}, stored {_f(sat['rows_stored'])}, lost "
        f"{_f(sat['rows_lost'])}) |",
        f"| R_http = heartbeat req/s ÷ hello-world req/s | {_f(ratios['R_http'], 3)} |",
        f"| R_ingest = rows stored/s ÷ COPY rows/s | {_f(ratios['R_ingest'], 3)} |",
        "",
        f"## Steps ({c['interval_s']:g} s heartbeat interval ±{c['jitter'] * 100:.0f} %, "
        f"hold {c['hold_s']:g} s)",
        "",
        "| agents | WS open | beats/s | hb p50 ms | hb p99 ms | errors % | rows sent / stored "
        "| push one p50/p99 ms | broadcast p50/p99 ms | device list p95 ms | server RSS MB "
        "| server CPU ms/beat | passed |",
        "| " + " | ".join(["---"] * 13) + " |",
    ]
    for s in r["steps"]:
        one, bc = s["push_one"], s["push_broadcast"]
        lines.append(
            f"| {_f(s['agents'])} | {_f(s['ws_open'])} | {_f(s['heartbeats_per_s'])} "
            f"| {_f(s['heartbeat_p50_ms'], 2)} | {_f(s['heartbeat_p99_ms'], 2)} "
            f"| {_f(s['error_rate'] * 100, 3)} | {_f(s['rows_sent'])} / {_f(s['rows_stored'])} "
            f"| {_f(one['p50_ms'], 0)} / {_f(one['p99_ms'], 0)} "
            f"| {_f(bc['p50_ms'], 0)} / {_f(bc['p99_ms'], 0)} ({_f(bc['received'])}/"
            f"{_f(bc['commands'])}) | {_f(s['device_list']['p95_ms'], 1)} "
            f"| {_f(s['server']['rss_mb'], 0)} | {_f(s['server']['cpu_ms_per_heartbeat'], 2)} "
            f"| {_f(s['passed'])} |"
        )
    for skipped in r.get("skipped_steps", []):
        lines.append(f"| {_f(skipped['agents'])} | skipped: {skipped['reason']} |" + " |" * 11)
    lines += ["", *_gc_lines(r["steps"])]
    failed = [
        f"{_f(s['agents'])} agents: " + ", ".join(k for k, ok in s["checks"].items() if not ok)
        for s in r["steps"]
        if not s["passed"]
    ]
    lines += [
        "",
        "Failed checks: " + ("; ".join(failed) or "none"),
        "",
        "## Offline detection",
        "",
        (
            f"{off['detected']}/{off['devices']} stopped agents shown offline by the device "
            f"list; delay from their last heartbeat p50 {_f(off['delay_p50_s'])} s, max "
            f"{_f(off['delay_max_s'])} s (threshold {_f(off['threshold_s'])} s = "
            f"offline_after_missed {c['offline_after_missed']} x {c['interval_s']:g} s "
            f"interval; sweep every {_f(off['sweep_s'])} s; measured at "
            f"{_f(off.get('agents'))} agents)."
            if off
            else "Not measured in this run (--offline-probe 0)."
        ),
        "",
        "## Settings",
        "",
        "```",
        *[f"{k}={v}" for k, v in sorted(c["server_env"].items())],
        "```",
        "",
        f"Reproduce: `{c['command']}` (see bench/README.md).",
    ]
    if r.get("notes"):
        lines += ["", "## Notes", "", *[f"- {n}" for n in r["notes"]]]
    return "\n".join(lines) + "\n"
