"""What the agent remembers between runs, in ``<config>.state.json`` beside its config.

The last heartbeat's result (shown by ``breeze-agent status``) and the hash of every
inventory section as last accepted by the server, from which deltas are computed.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from breeze_agent.config import write_private
from breeze_protocol import INVENTORY_SECTIONS, Inventory

log = logging.getLogger(__name__)

# Fields that change on every read without anything having changed on the machine.
VOLATILE_FIELDS: dict[str, frozenset[str]] = {"os": frozenset({"uptime_seconds"})}


class AgentState(BaseModel):
    model_config = ConfigDict(extra="ignore")

    last_heartbeat_at: datetime | None = None
    last_heartbeat_ok: bool | None = None
    last_heartbeat_result: str | None = None
    last_success_at: datetime | None = None
    last_inventory_at: datetime | None = None
    last_inventory_mode: str | None = None
    full_inventory_sent: bool = False
    section_hashes: dict[str, str] = Field(default_factory=dict)

    def heartbeat(self, ok: bool, result: str) -> None:
        now = datetime.now(UTC)
        self.last_heartbeat_at = now
        self.last_heartbeat_ok = ok
        self.last_heartbeat_result = result
        if ok:
            self.last_success_at = now


def load_state(path: Path) -> AgentState:
    """The saved state; a missing or damaged file means a fresh start (full inventory)."""
    try:
        return AgentState.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return AgentState()
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable state file %s: %s", path, exc)
        return AgentState()


def save_state(path: Path, state: AgentState) -> None:
    write_private(path, state.model_dump_json(indent=2) + "\n")


def section_hash(name: str, data: dict[str, Any]) -> str:
    """Stable hash of one section's JSON, volatile fields left out."""
    drop = VOLATILE_FIELDS.get(name, frozenset())
    stable = {k: v for k, v in data.items() if k not in drop}
    blob = json.dumps(stable, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def section_hashes(inventory: Inventory) -> dict[str, str]:
    """Hash of every section present in ``inventory``."""
    out: dict[str, str] = {}
    for name in INVENTORY_SECTIONS:
        section = getattr(inventory, name)
        if section is not None:
            out[name] = section_hash(name, section.model_dump(mode="json"))
    return out


def delta(
    inventory: Inventory, previous: dict[str, str]
) -> tuple[Inventory | None, dict[str, str]]:
    """The delta document for a freshly collected full ``inventory``.

    Returns ``(document, hashes)``: the document holds only the sections whose hash differs
    from ``previous`` (``None`` when nothing changed), and ``hashes`` is what to remember once
    the server has accepted it. A section whose collector failed is neither sent nor
    forgotten: its previous hash is kept so it is compared again next time.
    """
    current = section_hashes(inventory)
    changed = [name for name, digest in current.items() if previous.get(name) != digest]
    hashes = {**previous, **current}
    if not changed:
        return None, hashes
    keep = {name: getattr(inventory, name) for name in changed}
    document = Inventory.model_validate(
        {
            "mode": "delta",
            "agent_version": inventory.agent_version,
            "collected_at": inventory.collected_at,
            "errors": inventory.errors,
            **keep,
        }
    )
    return document, hashes
