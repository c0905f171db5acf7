"""What agents report about their commands: acknowledgements and final results.

Result ingest is idempotent: a repeat of a final result changes nothing. A final state the
server set on its own (the sweep's timeout or expiry, a cancel before the agent
acknowledged) still takes the agent's one real result when it arrives late, marked
``result_late``; that change of a final state is audited.

Reports come one at a time (the HTTP gateway) or many at once (``commands.reports``, what
agents send over their WebSockets): one transaction, one read of the commands and one
delete of their streamed output per batch, whatever its size.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete

from breeze.audit.actions import record
from breeze.commands import events
from breeze.commands.delivery import redact, secret_values
from breeze.commands.errors import CommandNotFound
from breeze.commands.models import (
    FINAL_STATES,
    PENDING,
    RUNNING,
    SENT,
    CommandOutputChunk,
    DeviceCommand,
)
from breeze.commands.queries import commands_by_id
from breeze.commands.schemas import SECRET_MASK
from breeze.core.errors import BreezeError
from breeze.core.principal import Actor
from breeze.core.state import AppState
from breeze.db.base import utcnow
from breeze.db.engine import UnitOfWork
from breeze.devices.actions import do_set_pending_reboot
from breeze.devices.models import Device
from breeze_protocol.commands import CommandAck, CommandResult

CLOSED_BY_SERVER = {"closed_by": "server"}


def closed_by_server(cmd: DeviceCommand) -> bool:
    """A final state set without word from the agent: its late result is still taken."""
    return (cmd.result_details or {}).get("closed_by") == "server"


def erase_secrets(cmd: DeviceCommand) -> None:
    """Replace secret env values in the stored payload once nothing needs them."""
    env = cmd.payload.get("env") if isinstance(cmd.payload, dict) else None
    if not cmd.secret_names or not isinstance(env, dict):
        return
    hidden = set(cmd.secret_names)
    cmd.payload = {
        **cmd.payload,
        "env": {k: SECRET_MASK if k in hidden else v for k, v in env.items()},
    }


@dataclass(frozen=True)
class AckReport:
    device_id: uuid.UUID
    command_id: uuid.UUID
    ack: CommandAck


@dataclass(frozen=True)
class ResultReport:
    device_id: uuid.UUID
    command_id: uuid.UUID
    result: CommandResult
    actor: Actor | None = None


Outcome = BreezeError | None  # per report: None stored (or a repeat), else why not


async def ack_command(
    state: AppState, device_id: uuid.UUID, command_id: uuid.UUID, ack: CommandAck
) -> None:
    """The agent started the command: ``running`` with a deadline (timeout + grace)."""
    (outcome,) = await ack_commands(state, [AckReport(device_id, command_id, ack)])
    if outcome is not None:
        raise outcome


async def ack_commands(state: AppState, acks: Sequence[AckReport]) -> list[Outcome]:
    """Several acks in one transaction (each as `ack_command`; repeats change nothing)."""
    grace = state.settings.commands.result_grace_seconds
    outcomes: list[Outcome] = []
    changed: list[dict[str, Any]] = []
    async with state.db.write() as uow:
        s = uow.session
        found = await commands_by_id(s, [a.command_id for a in acks], lock=True)
        rebooting: set[uuid.UUID] = set()
        for report in acks:
            cmd = found.get(report.command_id)
            if cmd is None or cmd.device_id != report.device_id:
                outcomes.append(CommandNotFound())
                continue
            outcomes.append(None)
            if cmd.status in (PENDING, SENT):
                now = utcnow()
                cmd.status = RUNNING
                cmd.started_at = now
                cmd.sent_at = cmd.sent_at or now
                cmd.deadline_at = now + timedelta(seconds=cmd.timeout_seconds + grace)
                cmd.updated_at = now
                changed.append(events.status_event(cmd))
            if report.ack.pending_reboot:
                rebooting.add(report.device_id)
        for device_id in sorted(rebooting):
            await do_set_pending_reboot(s, device_id=device_id, pending=True)
    if changed:
        await events.publish_many(events.COMMAND_STATUS, changed, state.bus)
    return outcomes


def _apply(cmd: DeviceCommand, result: CommandResult, late: bool) -> None:
    hidden = secret_values(cmd)
    now = utcnow()
    cmd.status = result.status
    cmd.exit_code = result.exit_code
    cmd.stdout = redact(result.stdout, hidden)
    cmd.stderr = redact(result.stderr, hidden)
    cmd.stdout_truncated = result.stdout_truncated
    cmd.stderr_truncated = result.stderr_truncated
    cmd.duration_ms = result.duration_ms
    cmd.error = redact(result.error, hidden)
    cmd.result_details = result.details
    cmd.result_late = late
    cmd.started_at = cmd.started_at or now
    cmd.completed_at = now
    cmd.updated_at = now
    erase_secrets(cmd)


async def result_command(
    state: AppState,
    device_id: uuid.UUID,
    command_id: uuid.UUID,
    result: CommandResult,
    actor: Actor | None = None,
) -> None:
    """Store the agent's final result (see the module doc for repeats and late results)."""
    report = ResultReport(device_id, command_id, result, actor)
    (outcome,) = await result_commands(state, [report])
    if outcome is not None:
        raise outcome


async def result_commands(state: AppState, results: Sequence[ResultReport]) -> list[Outcome]:
    """Several results in one transaction (each as `result_command`)."""
    outcomes: list[Outcome] = []
    published: list[dict[str, Any]] = []
    async with state.db.write() as uow:
        s = uow.session
        found = await commands_by_id(s, [r.command_id for r in results], lock=True)
        finished: list[uuid.UUID] = []
        reboot: dict[uuid.UUID, bool] = {}  # device -> pending, the last word wins
        for report in results:
            cmd = found.get(report.command_id)
            if cmd is None or cmd.device_id != report.device_id:
                outcomes.append(CommandNotFound())
                continue
            outcomes.append(None)
            if cmd.status in FINAL_STATES and not closed_by_server(cmd):
                continue  # a repeat: the first final result stands
            await _finish(uow, state, cmd, report)
            finished.append(cmd.id)
            if report.result.rebooted:
                reboot[report.device_id] = False
            elif report.result.pending_reboot:
                reboot[report.device_id] = True
            published.append(events.status_event(cmd))
        if finished:
            await s.execute(
                delete(CommandOutputChunk).where(CommandOutputChunk.command_id.in_(finished))
            )
        for device_id, pending in sorted(reboot.items()):
            await do_set_pending_reboot(s, device_id=device_id, pending=pending)
    if published:
        await events.publish_many(events.COMMAND_STATUS, published, state.bus)
    return outcomes


async def _finish(
    uow: UnitOfWork, state: AppState, cmd: DeviceCommand, report: ResultReport
) -> None:
    late = cmd.status in FINAL_STATES
    previous = {"status": cmd.status, "error": cmd.error}
    # JSON columns must not hold NUL on PostgreSQL; details are free-form from the agent.
    result = report.result.model_copy(
        update={"details": _without_nul(report.result.details)}  # type: ignore[dict-item]
    )
    _apply(cmd, result, late)
    await _collect(uow, state, cmd)
    if not late:
        return
    s = uow.session
    device = await s.get(Device, cmd.device_id)
    await record(
        s,
        actor=report.actor or Actor(type="agent", id=cmd.device_id, email=None),
        action="device.command.result_late",
        resource_type="device",
        resource_id=cmd.device_id,
        resource_name=device.hostname if device else None,
        partner_id=cmd.partner_id,
        org_id=cmd.org_id,
        details={
            "command_id": str(cmd.id),
            "type": cmd.type,
            "previous_status": previous["status"],
            "previous_error": previous["error"],
            "status": cmd.status,
        },
    )


async def _collect(uow: UnitOfWork, state: AppState, cmd: DeviceCommand) -> None:
    """A collector script's output becomes its device's custom field value; how that went
    is added to result_details (a bad value never fails the ingest)."""
    if cmd.type != "script":
        return
    # Imported late: the scripts domain builds on commands, not the other way round.
    from breeze.scripts.collector import collect

    outcome = await collect(uow, state.db, cmd)
    if outcome:
        cmd.result_details = {**(cmd.result_details or {}), **outcome}


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    return value
