"""Writes of custom field definitions; each writes its audit row in the same transaction.

Deleting a definition removes its values from every device of the organization in the
same transaction (a dialect seam: jsonb ``-`` on PostgreSQL, ``json_remove`` on SQLite).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import String, func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from breeze.audit.actions import record
from breeze.core.errors import InvalidInput
from breeze.core.patch import apply_changes
from breeze.core.principal import Principal
from breeze.customfields import queries
from breeze.customfields.errors import DuplicateKey, OptionInUse, TooManyFields
from breeze.customfields.models import CustomField
from breeze.customfields.schemas import CustomFieldCreate, CustomFieldUpdate
from breeze.customfields.values import validate_value
from breeze.db.base import JSONType, utcnow
from breeze.devices.filters import JsonKey
from breeze.devices.models import Device
from breeze.rbac.queries import visible_place

MAX_FIELDS_PER_ORG = 200
SELECTS = ("select", "multiselect")


def _check_definition(field: CustomField) -> None:
    """The definition as a whole is consistent (after create or a change)."""
    if field.type in SELECTS and not field.options:
        raise InvalidInput(f"A {field.type} field needs options", field="options")
    if field.type not in SELECTS and field.options:
        raise InvalidInput(f"A {field.type} field has no options", field="options")
    field.default_value = validate_value(field, field.default_value, field="default_value")
    if field.required and field.default_value is None:
        raise InvalidInput(
            "A required field needs a default_value (devices without a value show it)",
            field="default_value",
        )


def _audit_fields(field: CustomField) -> dict[str, Any]:
    return {
        "key": field.key,
        "type": field.type,
        "options": list(field.options),
        "required": field.required,
        "default_value": field.default_value,
    }


async def do_create_field(
    session: AsyncSession, *, actor: Principal, data: CustomFieldCreate
) -> CustomField:
    place = await visible_place(
        session, actor, partner_id=None, org_id=data.org_id, via=("devices:read",)
    )
    actor.require("devices:write", partner_id=place.partner_id, org_id=place.org_id)
    existing = await queries.definitions_for_org(session, data.org_id)
    if any(f.key == data.key for f in existing):
        raise DuplicateKey(data.key)
    if len(existing) >= MAX_FIELDS_PER_ORG:
        raise TooManyFields(MAX_FIELDS_PER_ORG)
    field = CustomField(
        id=uuid.uuid4(),
        partner_id=place.partner_id,
        org_id=data.org_id,
        key=data.key,
        name=data.name.strip(),
        description=data.description,
        type=data.type,
        options=list(data.options),
        required=data.required,
        default_value=data.default_value,
    )
    _check_definition(field)
    session.add(field)
    await session.flush()
    await record(
        session,
        actor=actor.actor,
        action="custom_field.create",
        resource_type="custom_field",
        resource_id=field.id,
        resource_name=field.name,
        partner_id=field.partner_id,
        org_id=field.org_id,
        details=_audit_fields(field),
    )
    return field


async def _writable(session: AsyncSession, actor: Principal, field_id: uuid.UUID) -> CustomField:
    field = await queries.get_field(session, actor, field_id)
    actor.require("devices:write", partner_id=field.partner_id, org_id=field.org_id)
    return field


async def _devices_holding(session: AsyncSession, field: CustomField, option: str) -> int:
    dialect = session.get_bind().dialect.name
    stmt = (
        select(func.count())
        .select_from(Device)
        .where(
            Device.org_id == field.org_id, JsonKey(dialect, field.key).equals(field.type, option)
        )
    )
    return int((await session.execute(stmt)).scalar_one())


async def do_update_field(
    session: AsyncSession, *, actor: Principal, field_id: uuid.UUID, data: CustomFieldUpdate
) -> CustomField:
    field = await _writable(session, actor, field_id)
    changes = data.model_dump(exclude_unset=True)
    if "name" in changes and changes["name"] is not None:
        changes["name"] = changes["name"].strip()
    if "options" in changes and changes["options"] is not None:
        for option in set(field.options) - set(changes["options"]):
            held = await _devices_holding(session, field, option)
            if held:
                raise OptionInUse(option, held)
    diff = apply_changes(
        field, changes, required=frozenset({"name", "description", "options", "required"})
    )
    _check_definition(field)
    if diff:
        await record(
            session,
            actor=actor.actor,
            action="custom_field.update",
            resource_type="custom_field",
            resource_id=field.id,
            resource_name=field.name,
            partner_id=field.partner_id,
            org_id=field.org_id,
            details={"key": field.key, "changes": diff},
        )
    return field


async def do_delete_field(
    session: AsyncSession, *, actor: Principal, field_id: uuid.UUID
) -> list[uuid.UUID]:
    """Delete the definition and its values; answers the devices that held a value."""
    field = await _writable(session, actor, field_id)
    j = JsonKey(session.get_bind().dialect.name, field.key)
    held = Device.org_id == field.org_id, j.present()
    device_ids = list((await session.execute(select(Device.id).where(*held))).scalars())
    if device_ids:
        if j.pg:
            emptied: Any = Device.custom_fields.op("-", return_type=JSONType)(
                literal(field.key, String())
            )
        else:
            emptied = func.json_remove(Device.custom_fields, j.path)
        await session.execute(
            update(Device)
            .where(*held)
            .values(custom_fields=emptied, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
    await session.delete(field)
    await record(
        session,
        actor=actor.actor,
        action="custom_field.delete",
        resource_type="custom_field",
        resource_id=field.id,
        resource_name=field.name,
        partner_id=field.partner_id,
        org_id=field.org_id,
        details={**_audit_fields(field), "devices_cleared": len(device_ids)},
    )
    return device_ids
