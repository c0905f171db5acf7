"""Collector scripts: a script naming ``output_field`` writes its output to that custom
field of the device it ran on.

Convention: the value is the last non-empty line of the standard output, trimmed, of a
run that completed with exit code 0. It is converted to the field's type here and written
through customfields.values.set_device_values (as the system, audited there). A value that
does not fit never fails the result ingest: the field stays as it was and the run's
``result_details.collector_error`` says why.
"""

from __future__ import annotations

import importlib
import logging
import math
import re
import uuid
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from breeze.commands.models import COMPLETED, DeviceCommand
from breeze.core.errors import BreezeError, InvalidInput
from breeze.core.principal import SYSTEM
from breeze.customfields.models import CustomField
from breeze.db.engine import Database, UnitOfWork
from breeze.devices.models import Device
from breeze.scripts.models import ScriptVersion

log = logging.getLogger("breeze.scripts")
TRUE = frozenset({"true", "yes", "y", "on", "1"})
FALSE = frozenset({"false", "no", "n", "off", "0"})
INTEGER = re.compile(r"[+-]?[0-9]+")
OUTPUT_FIELDS_KEPT = 10_000  # (script, version) pairs remembered per process


class CollectorError(Exception):
    """Why an output could not become the field's value (shown in result_details)."""


async def _definition(session: AsyncSession, org_id: uuid.UUID, key: str) -> CustomField | None:
    # The customfields domain owns the table; its query answers the definitions.
    queries = importlib.import_module("breeze.customfields.queries")
    definitions: list[CustomField] = await queries.definitions_for_org(session, org_id)
    return next((d for d in definitions if d.key == key), None)


async def check_output_field(
    session: AsyncSession, org_id: uuid.UUID | None, key: str | None
) -> None:
    """An organization's script may only name a field its organization defines (a
    partner-wide script is checked at each run, against the device's organization)."""
    if key is None or org_id is None:
        return
    if await _definition(session, org_id, key) is None:
        raise InvalidInput(
            f"the organization has no custom field '{key}'; create it first",
            field="output_field",
        )


def output_value(stdout: str | None) -> str:
    """The last non-empty line of the output, trimmed."""
    for line in reversed((stdout or "").splitlines()):
        if line.strip():
            return line.strip()
    raise CollectorError("the script printed nothing to write")


def convert(definition: CustomField, raw: str) -> Any:
    """The output line as a value of the field's type."""
    kind = definition.type
    if kind == "number":
        if INTEGER.fullmatch(raw):
            return int(raw)
        try:
            number = float(raw)
        except ValueError:
            raise CollectorError(f"'{_short(raw)}' is not a number") from None
        if not math.isfinite(number):
            raise CollectorError(f"'{_short(raw)}' is not a finite number")
        return number
    if kind == "boolean":
        if raw.lower() in TRUE:
            return True
        if raw.lower() in FALSE:
            return False
        raise CollectorError(f"'{_short(raw)}' is not a boolean (true/false, yes/no, 1/0)")
    if kind == "date":
        try:
            return date.fromisoformat(raw).isoformat()
        except ValueError:
            raise CollectorError(f"'{_short(raw)}' is not a date (YYYY-MM-DD)") from None
    if kind == "select":
        return _option(definition, raw)
    if kind == "multiselect":
        return [_option(definition, part.strip()) for part in raw.split(",") if part.strip()]
    return raw


def _option(definition: CustomField, raw: str) -> str:
    for option in definition.options:
        if option.lower() == raw.lower():
            return option
    raise CollectorError(
        f"'{_short(raw)}' is not one of the options: {', '.join(definition.options)}"
    )


_output_fields: dict[tuple[uuid.UUID, int], str | None] = {}


async def _output_field(session: AsyncSession, script_id: uuid.UUID, version: int) -> str | None:
    """The collector field of a script version. A version never changes once written, so
    it is asked once per process: a broadcast's thousands of results would otherwise
    each spend a query (a quarter of a result's cost) on the same answer."""
    key = (script_id, version)
    if key not in _output_fields:
        found = (
            await session.execute(
                select(ScriptVersion.output_field).where(
                    ScriptVersion.script_id == script_id, ScriptVersion.version == version
                )
            )
        ).scalar_one_or_none()
        if len(_output_fields) >= OUTPUT_FIELDS_KEPT:
            _output_fields.clear()
        _output_fields[key] = found
    return _output_fields[key]


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


async def collect(uow: UnitOfWork, db: Database, cmd: DeviceCommand) -> dict[str, Any] | None:
    """Write the output of a finished collector run to its field, in the caller's
    transaction. Answers what to add to the run's result_details (None: not a collector)."""
    if cmd.type != "script" or cmd.script_id is None or cmd.script_version is None:
        return None
    key = await _output_field(uow.session, cmd.script_id, cmd.script_version)
    if not key:
        return None
    try:
        value = await _write(uow, db, cmd, key)
    except CollectorError as exc:
        return {"collector_field": key, "collector_error": str(exc)}
    except BreezeError as exc:
        return {"collector_field": key, "collector_error": exc.detail}
    except Exception:
        # Whatever went wrong, the run's result itself must still be stored.
        log.exception("collector field %s of command %s could not be written", key, cmd.id)
        return {"collector_field": key, "collector_error": "the field could not be written"}
    return {"collector_field": key, "collector_value": value}


async def _write(uow: UnitOfWork, db: Database, cmd: DeviceCommand, key: str) -> Any:
    if cmd.status != COMPLETED or cmd.exit_code not in (0, None):
        raise CollectorError(f"the run did not succeed ({cmd.status}); field left unchanged")
    if cmd.stdout_truncated:
        raise CollectorError("the output was truncated, so its last line is not the value")
    raw = output_value(cmd.stdout)
    session = uow.session
    device = await session.get(Device, cmd.device_id)
    if device is None:  # pragma: no cover - the command cascades with its device
        raise CollectorError("the device no longer exists")
    definition = await _definition(session, device.org_id, key)
    if definition is None:
        raise CollectorError(f"the device's organization has no custom field '{key}'")
    value = convert(definition, raw)
    values = importlib.import_module("breeze.customfields.values")
    # A savepoint: a refused value must leave the result itself to be stored.
    async with session.begin_nested():
        diff = await values.set_device_values(
            session, actor=SYSTEM, device=device, values={key: value}, source="script"
        )
    if diff:
        values.reevaluate_after_commit(uow, db, [device.id])
    return value
