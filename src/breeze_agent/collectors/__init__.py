"""Collectors, one module per inventory section plus metrics.

Each module exposes ``SECTION`` (its name on the wire), ``MODEL`` (its breeze_protocol
model), ``FIELDS`` (field name -> unit and meaning) and ``collect()``. A collector notes what
it could not read in the section's ``unavailable`` mapping; should one still fail outright,
``collect_inventory`` records the error and carries on with the other sections.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from types import ModuleType

from pydantic import BaseModel

from breeze_agent import __version__
from breeze_agent.collectors import (
    disks,
    hardware,
    metrics,
    network,
    os_info,
    remote_access,
    software,
    users,
)
from breeze_protocol import CollectReport, FieldSpec, HeartbeatMetrics, Inventory

log = logging.getLogger(__name__)

INVENTORY_COLLECTORS: dict[str, ModuleType] = {
    m.SECTION: m for m in (hardware, os_info, network, disks, software, users, remote_access)
}
ALL_COLLECTORS: dict[str, ModuleType] = {**INVENTORY_COLLECTORS, metrics.SECTION: metrics}
SECTIONS: tuple[str, ...] = tuple(ALL_COLLECTORS)


def declared_fields(section: str) -> dict[str, FieldSpec]:
    fields: dict[str, FieldSpec] = ALL_COLLECTORS[section].FIELDS
    return fields


def _guarded(section: str, fn: Callable[[], BaseModel], errors: dict[str, str]) -> object:
    try:
        return fn()
    except Exception as exc:  # a collector must never take the agent down
        log.exception("collector %s failed", section)
        errors[section] = f"{type(exc).__name__}: {exc}"
        return None


def collect_inventory(sections: Iterable[str] | None = None) -> Inventory:
    """Run the inventory collectors (all, or the named ones) into one document."""
    wanted = list(INVENTORY_COLLECTORS) if sections is None else list(sections)
    errors: dict[str, str] = {}
    values: dict[str, object] = {}
    for name in wanted:
        values[name] = _guarded(name, INVENTORY_COLLECTORS[name].collect, errors)
    return Inventory.model_validate(
        {
            "agent_version": __version__,
            "collected_at": datetime.now(UTC),
            "errors": errors,
            **{k: v for k, v in values.items() if v is not None},
        }
    )


def collect_metrics(cpu_interval: float = metrics.DEFAULT_CPU_INTERVAL) -> HeartbeatMetrics:
    return metrics.collect(cpu_interval)


def collect_report(
    sections: Iterable[str] | None = None,
    cpu_interval: float = metrics.DEFAULT_CPU_INTERVAL,
) -> CollectReport:
    """What ``breeze-agent collect`` prints: inventory sections and (if asked) metrics."""
    wanted = list(SECTIONS) if sections is None else list(sections)
    unknown = [s for s in wanted if s not in ALL_COLLECTORS]
    if unknown:
        raise ValueError(f"unknown section(s): {', '.join(unknown)}; known: {', '.join(SECTIONS)}")
    inventory = collect_inventory([s for s in wanted if s != metrics.SECTION])
    errors: dict[str, str] = {}
    sample = None
    if metrics.SECTION in wanted:
        sample = _guarded(metrics.SECTION, lambda: collect_metrics(cpu_interval), errors)
    return CollectReport.model_validate(
        {"inventory": inventory, "metrics": sample, "errors": errors}
    )


__all__ = [
    "ALL_COLLECTORS",
    "INVENTORY_COLLECTORS",
    "SECTIONS",
    "collect_inventory",
    "collect_metrics",
    "collect_report",
    "declared_fields",
]
