"""What agents report about their commands: acknowledgements and final results.

Result ingest is idempotent: a repeat of a final result changes nothing. A final state the
server set on its own (the sweep's timeout or expiry, a cancel before the agent
acknowledged) still takes the agent's one real result when it arrives late, marked
``result_late``; that change of a final state is audited.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import delete

from breeze.audit.actions import record
from breeze.commands import events
from breeze.commands.delivery import redact, secret_values
from breeze.commands.models import (
    FINAL_STATES,
    PENDING,
    RUNNING,
    SENT,
    CommandOutputChunk,
    DeviceCommand,
)
from breeze.commands.queries import command_of_device
from breeze.commands.schemas import SECRET_MASK
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


async def ack_command(
    state: AppState, device_id: uuid.UUID, command_id: uuid.UUID, ack: CommandAck
) -> None:
    """The agent started the command: ``running`` with a deadline (timeout + grace)."""
    grace = state.settings.commands.result_grace_seconds
    changed: dict[str, Any] | None = None
    async with state.db.write() as uow:
        s = uow.session
        cmd = await command_of_device(s, command_id, device_id, lock=True)
        if cmd.status in (PENDING, SENT):
            now = utcnow()
            cmd.status = RUNNING
            cmd.started_at = now
            cmd.sent_at = cmd.sent_at or now
            cmd.deadline_at = now + timedelta(seconds=cmd.timeout_seconds + grace)
            cmd.updated_at = now
            changed = events.status_event(cmd)
        if ack.pending_reboot:
            await do_set_pending_reboot(s, device_id=device_id, pending=True)
    if changed is not None:
        await events.publish(events.COMMAND_STATUS, changed, state.bus)


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
) -> DeviceCommand:
    """Store the agent's final result (see the module doc for repeats and late results)."""
    published: dict[str, Any] | None = None
    async with state.db.write() as uow:
        s = uow.session
        cmd = await command_of_device(s, command_id, device_id, lock=True)
        if cmd.status in FINAL_STATES and not closed_by_server(cmd):
            return cmd  # a repeat: the first final result stands
        late = cmd.status in FINAL_STATES
        previous = {"status": cmd.status, "error": cmd.error}
        # JSON columns must not hold NUL on PostgreSQL; details are free-form from the agent.
        result = result.model_copy(
            update={"details": _without_nul(result.details)}  # type: ignore[dict-item]
        )
        _apply(cmd, result, late)
        await _collect(uow, state, cmd)
        await s.execute(delete(CommandOutputChunk).where(CommandOutputChunk.command_id == cmd.id))
        if result.rebooted:
            await do_set_pending_reboot(s, device_id=device_id, pending=False)
        elif result.pending_reboot:
            await do_set_pending_reboot(s, device_id=device_id, pending=True)
        if late:
            device = await s.get(Device, device_id)
            await record(
                s,
                actor=actor or Actor(type="agent", id=device_id, email=None),
                action="device.command.result_late",
                resource_type="device",
                resource_id=device_id,
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
        published = events.status_event(cmd)
    await events.publish(events.COMMAND_STATUS, published, state.bus)
    return cmd


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
