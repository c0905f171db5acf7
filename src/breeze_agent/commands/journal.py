"""The command journal: what the agent must remember about commands across restarts.

A JSON file beside the state file (``<config>.journal.json``, mode 0600, replaced
atomically on every change) holding:

* ``nonces``: every accepted envelope's nonce until its expiry, so a replay is refused;
* ``commands``: per command id its state (``queued`` with the envelope, so a command
  received but not started survives a restart; ``running``; ``done`` with its result;
  ``handed_off`` when another part of the agent reports it, e.g. a self-update), and for
  reboot/shutdown the boot id seen before the power action;
* ``refusals``: failed results of refused envelopes, until posted;
* ``reboot_required_on``: the boot id on which a script said "reboot required".

A result stays in the journal until the server accepted it (the spool), then is kept in a
slim form (no output) so a repeat delivery is answered with it. Entries are pruned once
their envelope expired (plus ``GRACE_SECONDS`` against clock skew).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from breeze_agent.config import write_private
from breeze_protocol import CommandEnvelope, CommandResult

log = logging.getLogger(__name__)

GRACE_SECONDS = 3600
EntryState = Literal["queued", "running", "done", "handed_off"]


class PowerRecord(BaseModel):
    """A reboot/shutdown the agent started: the device was on ``boot_id`` before it."""

    boot_id: str
    requested_at: float
    delay_seconds: int = 0


class Entry(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    type: str
    state: EntryState
    expires_at: int
    received_at: float = Field(default_factory=time.time)
    envelope: CommandEnvelope | None = None  # while queued: to start it after a restart
    result: CommandResult | None = None
    posted: bool = False
    power: PowerRecord | None = None


class JournalData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    nonces: dict[str, int] = Field(default_factory=dict)
    commands: dict[str, Entry] = Field(default_factory=dict)
    refusals: dict[str, CommandResult] = Field(default_factory=dict)
    # The boot on which a script asked for a reboot (exit 194); None once rebooted.
    reboot_required_on: str | None = None


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.data = self._load()

    def _load(self) -> JournalData:
        try:
            return JournalData.model_validate_json(self.path.read_bytes())
        except FileNotFoundError:
            return JournalData()
        except (OSError, ValidationError, ValueError) as exc:
            # Replay protection is lost for envelopes not yet expired; say so loudly.
            log.error("command journal %s is unreadable (%s); starting a new one", self.path, exc)
            return JournalData()

    def save(self) -> None:
        try:
            write_private(self.path, self.data.model_dump_json())
        except OSError as exc:
            log.error("cannot write the command journal %s: %s", self.path, exc)

    # -- nonces ----------------------------------------------------------------------------

    def nonce_seen(self, nonce: str) -> bool:
        return nonce in self.data.nonces

    # -- commands --------------------------------------------------------------------------

    def get(self, command_id: str) -> Entry | None:
        return self.data.commands.get(command_id)

    def accept(self, envelope: CommandEnvelope) -> Entry:
        """Remember a verified envelope (its nonce, and the command as queued)."""
        self.data.nonces[envelope.nonce] = envelope.expires_at
        entry = Entry(
            id=envelope.id,
            type=envelope.type,
            state="queued",
            expires_at=envelope.expires_at,
            envelope=envelope,
        )
        if envelope.type != "cancel":
            self.data.commands[envelope.id] = entry
        self.save()
        return entry

    def remember_nonce(self, envelope: CommandEnvelope) -> None:
        self.data.nonces[envelope.nonce] = envelope.expires_at
        self.save()

    def set_state(
        self, command_id: str, state: EntryState, *, power: PowerRecord | None = None
    ) -> None:
        entry = self.data.commands.get(command_id)
        if entry is None:
            return
        entry.state = state
        if state != "queued":
            entry.envelope = None
        if power is not None:
            entry.power = power
        self.save()

    def finish(
        self, command_id: str, type_: str, result: CommandResult, *, expires_at: int | None = None
    ) -> None:
        """Store the final result (to be posted); a result already stored is kept."""
        entry = self.data.commands.get(command_id)
        if entry is None:
            entry = Entry(
                id=command_id,
                type=type_,
                state="done",
                expires_at=expires_at or int(time.time()),
            )
            self.data.commands[command_id] = entry
        if entry.state == "done" and entry.result is not None:
            return
        entry.state = "done"
        entry.envelope = None
        entry.result = result
        entry.posted = False
        self.save()

    def refuse(self, command_id: str, result: CommandResult) -> None:
        self.data.refusals[command_id] = result
        self.save()

    def outbox(self) -> list[tuple[str, CommandResult, bool]]:
        """(command id, result, is_refusal) not yet accepted by the server, oldest first."""
        out: list[tuple[str, CommandResult, bool]] = [
            (cid, e.result, False)
            for cid, e in sorted(self.data.commands.items(), key=lambda kv: kv[1].received_at)
            if e.state == "done" and e.result is not None and not e.posted
        ]
        out.extend((cid, r, True) for cid, r in self.data.refusals.items())
        return out

    def posted(self, command_id: str, *, refusal: bool) -> None:
        if refusal:
            self.data.refusals.pop(command_id, None)
        else:
            entry = self.data.commands.get(command_id)
            if entry is not None and entry.result is not None:
                entry.posted = True
                # The server has the output now; keep only what a repeat needs.
                entry.result = entry.result.model_copy(update={"stdout": "", "stderr": ""})
        self.save()

    def entries(self, state: EntryState) -> list[Entry]:
        return sorted(
            (e for e in self.data.commands.values() if e.state == state),
            key=lambda e: e.received_at,
        )

    def prune(self, now: float | None = None) -> int:
        """Forget nonces and delivered commands whose envelope expired long enough ago."""
        limit = (now if now is not None else time.time()) - GRACE_SECONDS
        nonces = {n: exp for n, exp in self.data.nonces.items() if exp >= limit}
        commands = {
            cid: e
            for cid, e in self.data.commands.items()
            if e.expires_at >= limit
            or e.state in ("running", "queued")
            or (e.state == "done" and not e.posted)
        }
        removed = len(self.data.nonces) - len(nonces) + len(self.data.commands) - len(commands)
        if removed:
            self.data.nonces = nonces
            self.data.commands = commands
            self.save()
        return removed
