"""Device list filters that are more than "column IN (values)": custom fields, groups,
last-seen ranges, and the parsing of a filter set given as a JSON object (bulk actions and
saved views use the same parameters as ``GET /api/v1/devices``).

Custom field filter syntax: ``custom_field=<key>:<value>`` with several terms separated by
commas. Terms on the same key are alternatives (OR); different keys must all match (AND).
``<key>:*`` matches devices with any value. Values compare by the field's type: text
case-insensitively, number numerically, boolean true/false, date YYYY-MM-DD, select
exactly, multiselect "holds this option". A device without a value of its own matches
its field's default. Values containing a comma cannot be filtered on.
"""

from __future__ import annotations

import json
import re
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    String,
    and_,
    cast,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from breeze.core.errors import BreezeError, FieldProblem, InvalidInput
from breeze.core.pagination import ListParams, ListSpec, list_query
from breeze.core.principal import Principal
from breeze.customfields.models import CustomField
from breeze.customfields.queries import visible_definitions
from breeze.devices.models import Device

CUSTOM_FIELD_HELP = (
    "Custom field filter: comma-separated <key>:<value> terms (the same key: any of them; "
    "different keys: all of them); <key>:* for any value. Text matches ignoring case, "
    "numbers numerically, booleans as true/false, dates as YYYY-MM-DD, multiselect when "
    "the device holds the option; a device without its own value matches the default."
)
KEY = re.compile(r"[a-z][a-z0-9_]{0,63}")
ANY = "*"
# Query parameters of the device list a filter set may hold, besides the ListSpec filters.
EXTRA_PARAMS = ("q", "created_after", "created_before")


class _Skip(Exception):
    """The filter value does not fit this definition's type."""


def _parse_term(term: str) -> tuple[str, str]:
    key, sep, value = term.partition(":")
    key = key.strip()
    if not sep or not KEY.fullmatch(key) or value == "":
        raise InvalidInput(
            f"'{term}' is not a custom field filter; write <key>:<value> or <key>:*",
            field="custom_field",
        )
    return key, value


def _typed(kind: str, raw: str) -> Any:
    """The filter text as a value of `kind`, or _Skip."""
    if kind in ("text", "select", "multiselect"):
        return raw
    if kind == "number":
        try:
            number = float(raw)
        except ValueError:
            raise _Skip() from None
        if number != number or number in (float("inf"), float("-inf")):
            raise _Skip()
        return int(number) if number.is_integer() else number
    if kind == "boolean":
        if raw.lower() not in ("true", "false"):
            raise _Skip()
        return raw.lower() == "true"
    if kind == "date":
        if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", raw):
            raise _Skip()
        return raw
    raise _Skip()


def _matches_default(kind: str, value: Any, default: Any) -> bool:
    if default is None:
        return False
    if value is ANY:
        return True
    if kind == "text":
        return isinstance(default, str) and default.lower() == value.lower()
    if kind == "multiselect":
        return isinstance(default, list) and value in default
    return bool(default == value and type(default) is type(value))


def _jsonb(value: Any) -> Any:
    """A JSON value as a jsonb constant (the text is bound as text, not re-encoded)."""
    return cast(literal(json.dumps(value), String()), JSONB)


def _caseless(column: Any, text: str) -> ColumnElement[bool]:
    """Equal ignoring case. SQL lower() folds ASCII only on SQLite (and under a C locale
    on PostgreSQL) but all letters elsewhere: the text is compared folded both ways."""
    ascii_folded = "".join(c.lower() if c.isascii() else c for c in text)
    return func.lower(column).in_(sorted({ascii_folded, text.lower()}))


class JsonKey:
    """Conditions on one key of Device.custom_fields, per dialect (rule 8: the seam)."""

    def __init__(self, dialect: str, key: str) -> None:
        self.pg = dialect == "postgresql"
        self.key = key
        self.path = f'$."{key}"'  # key matches KEY: no quote can appear in it

    def absent(self) -> ColumnElement[bool]:
        if self.pg:
            return Device.custom_fields[self.key].is_(None)
        return func.json_type(Device.custom_fields, self.path).is_(None)

    def present(self) -> ColumnElement[bool]:
        return ~self.absent()

    def equals(self, kind: str, value: Any) -> ColumnElement[bool]:
        if self.pg:
            if kind == "text":
                return _caseless(Device.custom_fields[self.key].as_string(), value)
            if kind == "multiselect":
                return Device.custom_fields[self.key].op("@>")(_jsonb([value]))
            same: ColumnElement[bool] = Device.custom_fields[self.key] == _jsonb(value)
            return same
        kind_of = func.json_type(Device.custom_fields, self.path)
        extracted = func.json_extract(Device.custom_fields, self.path)
        if kind == "text":
            return and_(kind_of == "text", _caseless(extracted, value))
        if kind == "multiselect":
            each = func.json_each(Device.custom_fields, self.path).table_valued("value")
            return exists(select(each.c.value).where(each.c.value == value))
        if kind == "boolean":
            return kind_of == ("true" if value else "false")
        if kind == "number":
            return and_(kind_of.in_(("integer", "real")), extracted == value)
        return and_(kind_of == "text", extracted == value)


async def custom_field_condition(
    session: AsyncSession,
    principal: Principal,
    terms: list[str],
    org_ids: list[uuid.UUID] | None = None,
) -> ColumnElement[bool]:
    """The WHERE condition of a `custom_field` filter (see the module docstring), with
    the definitions of these organizations when the list is limited to them."""
    by_key: dict[str, list[str]] = defaultdict(list)
    for term in terms:
        key, value = _parse_term(term)
        by_key[key].append(value)
    definitions = await visible_definitions(session, principal, by_key, org_ids)
    per_key: dict[str, list[CustomField]] = defaultdict(list)
    for d in definitions:
        per_key[d.key].append(d)
    dialect = session.get_bind().dialect.name
    clauses: list[ColumnElement[bool]] = []
    for key, values in by_key.items():
        if not per_key[key]:
            raise InvalidInput(f"There is no custom field '{key}' here", field="custom_field")
        j = JsonKey(dialect, key)
        alternatives: list[ColumnElement[bool]] = []
        for raw in values:
            # Organizations whose definitions give the same condition share one
            # "org_id IN (...)" term: (type, does the default match).
            groups: dict[tuple[str, bool], list[uuid.UUID]] = defaultdict(list)
            typed: dict[str, Any] = {}
            for d in per_key[key]:
                try:
                    typed[d.type] = ANY if raw == ANY else _typed(d.type, raw)
                except _Skip:
                    continue
                default = _matches_default(d.type, typed[d.type], d.default_value)
                groups[(d.type, default)].append(d.org_id)
            if not groups:
                raise InvalidInput(
                    f"'{raw}' is not a valid value for the custom field '{key}'",
                    field="custom_field",
                )
            for (kind, default), orgs in groups.items():
                value = typed[kind]
                own = j.present() if value is ANY else j.equals(kind, value)
                if default:
                    own = or_(own, j.absent())
                alternatives.append(and_(Device.org_id.in_(orgs), own))
        clauses.append(or_(*alternatives))
    return and_(*clauses) if clauses else true()


async def group_condition(
    session: AsyncSession, principal: Principal, group_ids: list[uuid.UUID]
) -> ColumnElement[bool]:
    """Devices in any of these groups (each must be visible: 404 otherwise)."""
    # Imported here: the groups domain builds on devices, not the other way round.
    from breeze.groups.queries import group_device_ids_condition

    if not group_ids:
        return false()
    return or_(*[await group_device_ids_condition(session, principal, g) for g in group_ids])


def parse_instant(raw: Any, field: str) -> datetime:
    try:
        value = raw if isinstance(raw, datetime) else datetime.fromisoformat(str(raw).strip())
    except ValueError:
        raise InvalidInput(
            f"'{raw}' is not a date-time (ISO 8601, e.g. 2030-01-31T12:00:00Z)", field=field
        ) from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _as_text(value: Any, field: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    if isinstance(value, list) and all(
        isinstance(v, str | int | float) and not isinstance(v, bool) for v in value
    ):
        return ",".join(str(v) for v in value)
    raise InvalidInput("give a string, a number, a boolean or a list of strings", field=field)


def params_from_filters(
    spec: ListSpec, filters: dict[str, Any], *, field: str, per_page: int = 50
) -> ListParams:
    """A filter set given as JSON (name -> value) as the list's parameters; unknown names
    and bad values answer 422 naming ``<field>.<name>``."""
    allowed = set(spec.filters) | set(EXTRA_PARAMS)
    for name in filters:
        if name not in allowed:
            raise InvalidInput(
                f"'{name}' is not a device list filter; use: {', '.join(sorted(allowed))}",
                field=f"{field}.{name}",
            )
    texts = {
        name: _as_text(value, f"{field}.{name}")
        for name, value in filters.items()
        if value is not None
    }
    build = list_query(spec)
    try:
        params = build(
            page=1,
            per_page=per_page,
            sort=None,
            q=texts.get("q"),
            **{n: texts.get(n) for n in spec.filters},
        )
    except BreezeError as exc:
        exc.problems = [FieldProblem(f"{field}.{p.field}", p.message) for p in exc.problems]
        raise
    for name in ("created_after", "created_before"):
        if name in texts:
            instant = parse_instant(texts[name], f"{field}.{name}")
            if name == "created_after":
                params.after = instant
            else:
                params.before = instant
    # Checked now (the list checks them when it runs): a saved view must be usable.
    for term in params.filters.get("custom_field", []):
        try:
            _parse_term(str(term))
        except BreezeError as exc:
            raise InvalidInput(exc.detail, field=f"{field}.custom_field") from None
    for name in ("last_seen_after", "last_seen_before"):
        for value in params.filters.get(name, []):
            parse_instant(value, f"{field}.{name}")
    if params.q is not None and len(params.q) > 200:
        raise InvalidInput("at most 200 characters", field=f"{field}.q")
    return params


def filters_of(params: ListParams) -> dict[str, Any]:
    """The parameters as a JSON object (for audit rows)."""
    out: dict[str, Any] = {k: [str(v) for v in vs] for k, vs in params.filters.items()}
    if params.q:
        out["q"] = params.q
    if params.after:
        out["created_after"] = params.after.isoformat()
    if params.before:
        out["created_before"] = params.before.isoformat()
    return out
