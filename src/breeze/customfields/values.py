"""Device values of custom fields: validation against the definitions, and the write.

Values live in ``devices.custom_fields`` (key -> value). A device without a value of its
own shows the field's default; ``null`` clears a value (not allowed for a required field).
``set_device_values`` is the one writer, used by the console API and by collector
scripts (whose actor is the system principal).
"""

from __future__ import annotations

import logging
import math
import re
import uuid
from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from breeze.audit.actions import record
from breeze.core.errors import InvalidInput
from breeze.core.principal import Principal
from breeze.customfields.models import CustomField
from breeze.customfields.queries import definitions_for_org
from breeze.customfields.schemas import DeviceFieldValue
from breeze.db.engine import Database, UnitOfWork
from breeze.devices.errors import DeviceDecommissioned
from breeze.devices.models import Device

log = logging.getLogger("breeze.customfields")
MAX_TEXT = 2000
DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def validate_value(definition: CustomField, value: Any, *, field: str) -> Any:
    """`value` as stored for this definition (None stays None), or InvalidInput(field)."""
    if value is None:
        return None
    kind = definition.type

    def bad(why: str) -> InvalidInput:
        return InvalidInput(f"'{definition.key}' is a {kind} field: {why}", field=field)

    if kind == "text":
        if not isinstance(value, str):
            raise bad("give a string")
        if len(value) > MAX_TEXT or "\x00" in value:
            raise bad(f"at most {MAX_TEXT} characters, no NUL")
        return value
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise bad("give a number")
        if isinstance(value, float) and not math.isfinite(value):
            raise bad("give a finite number")
        # 5.0 is stored as 5: one spelling per number, so filters compare it everywhere.
        return int(value) if isinstance(value, float) and value.is_integer() else value
    if kind == "boolean":
        if not isinstance(value, bool):
            raise bad("give true or false")
        return value
    if kind == "date":
        if not isinstance(value, str) or not DATE.fullmatch(value):
            raise bad("give a date as YYYY-MM-DD")
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            raise bad("give a real date as YYYY-MM-DD") from None
    if kind == "select":
        if not isinstance(value, str) or value not in definition.options:
            raise bad(f"give one of: {', '.join(definition.options)}")
        return value
    if kind == "multiselect":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise bad("give a list of options")
        unknown = [v for v in value if v not in definition.options]
        if unknown:
            raise bad(f"'{unknown[0]}' is not one of: {', '.join(definition.options)}")
        return list(dict.fromkeys(value))
    raise bad("unknown type")  # pragma: no cover - types are validated on creation


def with_defaults(
    definitions: Iterable[CustomField], stored: dict[str, Any]
) -> list[DeviceFieldValue]:
    out = []
    for d in definitions:
        own = stored.get(d.key)
        out.append(
            DeviceFieldValue(
                key=d.key,
                name=d.name,
                type=d.type,
                options=list(d.options),
                required=d.required,
                value=d.default_value if own is None else own,
                is_default=own is None,
            )
        )
    return out


async def set_device_values(
    session: AsyncSession,
    *,
    actor: Principal,
    device: Device,
    values: dict[str, Any],
    source: str = "api",
) -> dict[str, list[Any]]:
    """Validate `values` (key -> value or null) against the definitions of the device's
    organization and store them; one audit row when something changed. Answers the diff
    {key: [old, new]}. The caller schedules group re-evaluation after commit
    (``reevaluate_after_commit``)."""
    actor.require(
        "devices:write", partner_id=device.partner_id, org_id=device.org_id, site_id=device.site_id
    )
    if device.decommissioned_at is not None:
        raise DeviceDecommissioned()
    definitions = {d.key: d for d in await definitions_for_org(session, device.org_id)}
    current = dict(device.custom_fields or {})
    diff: dict[str, list[Any]] = {}
    for key, raw in values.items():
        field = f"custom_fields.{key}"
        definition = definitions.get(key)
        if definition is None:
            raise InvalidInput(
                f"The device's organization has no custom field '{key}'", field=field
            )
        value = validate_value(definition, raw, field=field)
        if value is None and definition.required:
            raise InvalidInput(f"'{key}' is required; it cannot be cleared", field=field)
        old = current.get(key)
        if old == value and type(old) is type(value):
            continue
        if value is None:
            current.pop(key, None)
        else:
            current[key] = value
        diff[key] = [old, value]
    if not diff:
        return diff
    device.custom_fields = current  # a new dict, so the JSON column is seen as changed
    await record(
        session,
        actor=actor.actor,
        action="device.custom_fields.update",
        resource_type="device",
        resource_id=device.id,
        resource_name=device.display_name or device.hostname,
        partner_id=device.partner_id,
        org_id=device.org_id,
        details={"changes": diff, "source": source},
    )
    return diff


def reevaluate_after_commit(uow: UnitOfWork, db: Database, device_ids: Iterable[uuid.UUID]) -> None:
    """After commit, re-evaluate the dynamic group membership of these devices (their
    custom fields or tags changed). A failure is logged: membership catches up at the
    next evaluation, the write itself stands."""
    ids = list(dict.fromkeys(device_ids))
    if not ids:
        return

    async def hook() -> None:
        # Imported late: the groups domain builds on devices and custom fields.
        from breeze.groups.evaluation import reevaluate_devices

        try:
            await reevaluate_devices(db, ids)
        except Exception:
            log.exception("group re-evaluation failed for %d device(s)", len(ids))

    uow.on_commit(hook)
