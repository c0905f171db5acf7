"""Writes to the command queue by users and automations; each writes its audit row in the
same transaction and publishes after commit (agent pushes, browser updates)."""

from __future__ import annotations

import logging
import secrets
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, cast

from pydantic import BaseModel, ValidationError
from sqlalchemy import Table

from breeze.audit.actions import record
from breeze.commands import events
from breeze.commands import queries as q
from breeze.commands.delivery import frame_while_committing
from breeze.commands.errors import CommandFinished
from breeze.commands.models import CANCELLED, FINAL_STATES, PENDING, SENT, DeviceCommand
from breeze.commands.push import LocalSockets
from breeze.commands.schemas import MAX_EXPIRY_SECONDS, MIN_EXPIRY_SECONDS
from breeze.core.errors import FieldProblem, InvalidInput
from breeze.core.principal import Principal
from breeze.db.base import utcnow
from breeze.db.engine import UnitOfWork
from breeze.db.sql import insert_many
from breeze.devices.errors import DeviceDecommissioned
from breeze.devices.models import Device
from breeze.settings import Settings
from breeze_protocol.commands import (
    CollectInventoryPayload,
    PowerPayload,
    ScriptPayload,
    UpdateAgentPayload,
)

if TYPE_CHECKING:
    from breeze.core.state import AppState

log = logging.getLogger("breeze.commands")

PAYLOAD_MODELS: dict[str, type[BaseModel]] = {
    "script": ScriptPayload,
    "reboot": PowerPayload,
    "shutdown": PowerPayload,
    "collect_inventory": CollectInventoryPayload,
    "update_agent": UpdateAgentPayload,
}
COMMAND_TYPES = tuple(PAYLOAD_MODELS)
# Seconds a command of each type may run when the request names no timeout. A reboot's
# result arrives only once the device is back, so it gets room for a slow boot.
DEFAULT_TIMEOUTS = {"reboot": 900, "shutdown": 300, "collect_inventory": 600, "update_agent": 900}
MAX_TIMEOUT_SECONDS = 86_400


def _payload_problems(exc: ValidationError) -> list[FieldProblem]:
    problems = []
    for err in exc.errors():
        path = ".".join(str(p) for p in err["loc"])
        problems.append(FieldProblem(f"payload.{path}" if path else "payload", err["msg"]))
    return problems


def _has_nul(value: Any) -> bool:
    """NUL cannot be stored in PostgreSQL text or JSON; refuse it up front (a 422, not a 500)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def validate_payload(
    type: str, payload: dict[str, Any], settings: Settings, timeout_seconds: int | None
) -> dict[str, Any]:
    """The payload as it will be signed: validated by the type's wire model, defaults
    filled in (a script's timeout and output cap)."""
    model = PAYLOAD_MODELS.get(type)
    if model is None:
        raise InvalidInput(f"type must be one of: {', '.join(COMMAND_TYPES)}", field="type")
    if not isinstance(payload, dict):
        raise InvalidInput("payload must be an object", field="payload")
    if _has_nul(payload):
        raise InvalidInput("payload cannot contain NUL characters", field="payload")
    data = dict(payload)
    if type == "script":
        if timeout_seconds is not None:
            data["timeout_seconds"] = timeout_seconds
        cap = settings.commands.max_output_bytes
        asked = data.get("max_output_bytes")
        data["max_output_bytes"] = min(asked, cap) if isinstance(asked, int) else cap
    try:
        parsed = model.model_validate(data)
    except ValidationError as exc:
        problems = _payload_problems(exc)
        raise InvalidInput(
            f"{problems[0].field}: {problems[0].message}", problems=problems
        ) from None
    return parsed.model_dump(mode="json")


def resolve_payload(state: AppState, type: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Fill in what only the running server knows: for update_agent, the release's URL,
    checksum and size for the asked version (default: the server's own agent version)."""
    if type != "update_agent":
        return payload
    version = payload.get("version") if isinstance(payload, dict) else None
    if version is not None and not isinstance(version, str):
        raise InvalidInput("version must be a string", field="payload.version")
    extra = set(payload) - {"version"} if isinstance(payload, dict) else set()
    if extra:
        raise InvalidInput(
            f"update_agent takes only a version (not {', '.join(sorted(extra))})",
            field="payload",
        )
    from breeze.agents.releases import update_payload  # the agents domain imports commands

    return update_payload(state, version).model_dump(mode="json")


def _timeout(type: str, payload: dict[str, Any], asked: int | None) -> int:
    if type == "script":
        return int(payload["timeout_seconds"])
    if asked is not None:
        return asked
    base = DEFAULT_TIMEOUTS.get(type, 300)
    return min(MAX_TIMEOUT_SECONDS, base + int(payload.get("delay_seconds", 0)))


def _check_range(name: str, value: int | None, low: int, high: int) -> None:
    if value is not None and not low <= value <= high:
        raise InvalidInput(f"{name} must be between {low} and {high}", field=name)


class Placed(Protocol):
    """What queueing reads of a device: a `Device`, or a lighter object with these
    attributes (a script batch reads up to 10,000 devices as plain rows)."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def partner_id(self) -> uuid.UUID: ...
    @property
    def org_id(self) -> uuid.UUID: ...
    @property
    def site_id(self) -> uuid.UUID: ...
    @property
    def agent_id(self) -> str: ...
    @property
    def decommissioned_at(self) -> datetime | None: ...


def _audit_details(cmd: DeviceCommand, device: Device) -> dict[str, Any]:
    details: dict[str, Any] = {
        "command_id": str(cmd.id),
        "type": cmd.type,
        "agent_id": device.agent_id,
        "trigger_type": cmd.trigger_type,
        "timeout_seconds": cmd.timeout_seconds,
        "expires_at": cmd.expires_at.isoformat(),
    }
    if cmd.type == "script":
        details["language"] = cmd.payload.get("language")
        details["env_names"] = sorted(cmd.payload.get("env") or {})
        details["script_id"] = str(cmd.script_id) if cmd.script_id else None
        details["script_version"] = cmd.script_version
        details["batch_id"] = str(cmd.batch_id) if cmd.batch_id else None
    elif cmd.type in ("reboot", "shutdown", "update_agent"):
        details["payload"] = cmd.payload
    return details


def _where(device: Placed) -> dict[str, Any]:
    return {"partner_id": device.partner_id, "org_id": device.org_id, "site_id": device.site_id}


def _require_place(actor: Principal, device: Placed, type: str, permission: str) -> None:
    """The actor may run this type of command where the device is."""
    actor.require(permission, **_where(device))
    if type == "script" and permission != "scripts:execute":
        actor.require("scripts:execute", **_where(device))


def _require_live(device: Placed) -> None:
    if device.decommissioned_at is not None:
        raise DeviceDecommissioned()


def _device_values(device: Placed) -> dict[str, Any]:
    """The per-device columns of a new command."""
    return {"id": uuid.uuid4(), "device_id": device.id, **_where(device)}


def _shared_values(
    *,
    actor: Principal,
    type: str,
    payload: dict[str, Any],
    settings: Settings,
    timeout_seconds: int | None,
    expires_in_seconds: int | None,
    trigger_type: str,
    script_id: uuid.UUID | None,
    script_version: int | None,
    batch_id: uuid.UUID | None,
    secret_names: Sequence[str],
    rerun_of: uuid.UUID | None,
) -> dict[str, Any]:
    """The columns every device's copy of a command shares, the payload validated."""
    _check_range("timeout_seconds", timeout_seconds, 1, MAX_TIMEOUT_SECONDS)
    _check_range("expires_in_seconds", expires_in_seconds, MIN_EXPIRY_SECONDS, MAX_EXPIRY_SECONDS)
    body = validate_payload(type, payload, settings, timeout_seconds)
    now = utcnow()
    expiry = expires_in_seconds or settings.commands.default_expiry_seconds
    return {
        "type": type,
        "payload": body,
        "secret_names": sorted({str(n) for n in secret_names}),
        "status": PENDING,
        "trigger_type": trigger_type,
        "created_by_type": actor.actor.type,
        "created_by_id": actor.actor.id,
        "created_by_name": actor.actor.email,
        "script_id": script_id,
        "script_version": script_version,
        "batch_id": batch_id,
        "rerun_of": rerun_of,
        "timeout_seconds": _timeout(type, body, timeout_seconds),
        "expires_at": now + timedelta(seconds=expiry),
        "delivery_count": 0,
        # Every defaulted column is given: `queue_batch` writes rows, not ORM objects,
        # so the ORM's defaults would not fill them in.
        "stdout_truncated": False,
        "stderr_truncated": False,
        "result_details": {},
        "result_late": False,
        "created_at": now,
        "updated_at": now,
    }


async def do_queue_command(
    uow: UnitOfWork,
    *,
    actor: Principal,
    device: Device,
    type: str,
    payload: dict[str, Any],
    settings: Settings,
    timeout_seconds: int | None = None,
    expires_in_seconds: int | None = None,
    trigger_type: str = "manual",
    script_id: uuid.UUID | None = None,
    script_version: int | None = None,
    batch_id: uuid.UUID | None = None,
    secret_names: Sequence[str] = (),
    rerun_of: uuid.UUID | None = None,
    permission: str = "devices:execute",
) -> DeviceCommand:
    """Queue one command for one device. It waits (``pending``) until the agent's WebSocket
    or next heartbeat takes it, at most ``expires_in_seconds``."""
    _require_place(actor, device, type, permission)
    _require_live(device)
    cmd = DeviceCommand(
        **_device_values(device),
        **_shared_values(
            actor=actor,
            type=type,
            payload=payload,
            settings=settings,
            timeout_seconds=timeout_seconds,
            expires_in_seconds=expires_in_seconds,
            trigger_type=trigger_type,
            script_id=script_id,
            script_version=script_version,
            batch_id=batch_id,
            secret_names=secret_names,
            rerun_of=rerun_of,
        ),
        nonce=secrets.token_urlsafe(24),
    )
    uow.session.add(cmd)
    await uow.session.flush()
    await record(
        uow.session,
        actor=actor.actor,
        action="device.command.queue",
        resource_type="device",
        resource_id=device.id,
        resource_name=device.display_name or device.hostname,
        partner_id=device.partner_id,
        org_id=device.org_id,
        details=_audit_details(cmd, device),
    )
    agent_event = events.agent_event(device.agent_id, device.id)
    status_event = events.status_event(cmd)

    async def _announce() -> None:
        await events.publish(events.AGENT_COMMANDS, agent_event)
        await events.publish(events.COMMAND_STATUS, status_event)

    uow.on_commit(_announce)
    return cmd


async def queue_batch(
    uow: UnitOfWork,
    *,
    actor: Principal,
    devices: Sequence[Placed],
    type: str,
    payload: dict[str, Any],
    settings: Settings,
    timeout_seconds: int | None = None,
    trigger_type: str = "manual",
    script_id: uuid.UUID | None = None,
    script_version: int | None = None,
    batch_id: uuid.UUID | None = None,
    secret_names: Sequence[str] = (),
    rerun_of: uuid.UUID | None = None,
    permission: str = "devices:execute",
    sockets: LocalSockets | None = None,
) -> list[dict[str, Any]]:
    """Queue the same command on every device of `devices` (a script batch) and return
    the rows written. Checked and validated as `do_queue_command` would each copy, but the
    rows go in one statement without ORM objects and are announced in a few bus messages,
    so a batch for ten thousand devices takes a fraction of a second. Devices whose agent
    has a socket in `sockets` get their command ``sent`` and pushed straight after the
    commit (`commands.push`). The audit row is the caller's: one for the batch."""
    shared = _shared_values(
        actor=actor,
        type=type,
        payload=payload,
        settings=settings,
        timeout_seconds=timeout_seconds,
        expires_in_seconds=None,
        trigger_type=trigger_type,
        script_id=script_id,
        script_version=script_version,
        batch_id=batch_id,
        secret_names=secret_names,
        rerun_of=rerun_of,
    )
    places: set[tuple[uuid.UUID, uuid.UUID, uuid.UUID]] = set()  # each checked once
    for device in devices:
        place = (device.partner_id, device.org_id, device.site_id)
        if place not in places:
            _require_place(actor, device, type, permission)
            places.add(place)
        _require_live(device)
    if not devices:
        return []
    direct = sockets.agents_of(d.id for d in devices) if sockets is not None else {}
    # Every row has the same columns (one COPY); pushed rows are written as claimed.
    pushed_now = {"status": SENT, "sent_at": shared["created_at"], "delivery_count": 1}
    rows = [
        {**shared, **_device_values(d), "nonce": secrets.token_urlsafe(24), "sent_at": None}
        | (pushed_now if d.id in direct else {})
        for d in devices
    ]
    pushed = [row for row in rows if row["device_id"] in direct]
    framing = frame_while_committing(uow, settings, pushed, direct) if pushed else None
    await insert_many(uow.session, cast(Table, DeviceCommand.__table__), rows)

    async def _announce() -> None:
        if framing is not None and sockets is not None:
            try:
                await sockets.hand_over(await framing)
            except Exception:  # committed: the sweep re-delivers what was not sent
                log.exception("handing %d commands to their sockets failed", len(pushed))
        # The events are built after the hand-over: the frames must not wait for them.
        await events.publish_many(
            events.AGENT_COMMANDS,
            [events.agent_event(d.agent_id, d.id) for d in devices if d.id not in direct],
        )
        await events.publish_many(events.COMMAND_STATUS, [events.status_of(r) for r in rows])

    uow.on_commit(_announce)
    return rows


async def do_cancel_command(
    uow: UnitOfWork,
    *,
    actor: Principal,
    command_id: uuid.UUID,
    device_id: uuid.UUID | None = None,
    permission: str = "devices:execute",
) -> DeviceCommand:
    """A pending command is cancelled at once; a sent or running one is asked to stop
    (the agent gets a cancel envelope and reports ``cancelled``). Cancelling twice is
    harmless; a finished command answers 409."""
    session = uow.session
    cmd = await q.get_command(session, actor, command_id, device_id=device_id)
    actor.require(permission, partner_id=cmd.partner_id, org_id=cmd.org_id, site_id=cmd.site_id)
    await session.refresh(cmd, with_for_update=True)  # a concurrent hand-out or result
    if cmd.status in FINAL_STATES:
        raise CommandFinished(cmd.status)
    device = await session.get(Device, cmd.device_id)
    now = utcnow()
    previous = cmd.status
    who = actor.actor.email or actor.actor.type
    if cmd.status == PENDING:
        cmd.status = CANCELLED
        cmd.completed_at = now
        cmd.error = f"cancelled by {who} before the device took it"
        cmd.result_details = {"closed_by": "server"}
    elif cmd.cancel_requested_at is None:
        cmd.cancel_requested_at = now
        cmd.cancel_requested_by = who
    else:
        return cmd  # already asked; the agent is being told
    cmd.updated_at = now
    await record(
        session,
        actor=actor.actor,
        action="device.command.cancel",
        resource_type="device",
        resource_id=cmd.device_id,
        resource_name=(device.display_name or device.hostname) if device else None,
        partner_id=cmd.partner_id,
        org_id=cmd.org_id,
        details={"command_id": str(cmd.id), "type": cmd.type, "previous_status": previous},
    )
    status_event = events.status_event(cmd)
    agent_event = events.agent_event(device.agent_id, cmd.device_id) if device else None

    async def _announce() -> None:
        if status_event["status"] == CANCELLED:
            await events.publish(events.COMMAND_STATUS, status_event)
        elif agent_event is not None:
            await events.publish(events.AGENT_COMMANDS, agent_event)

    uow.on_commit(_announce)
    return cmd
