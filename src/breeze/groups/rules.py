"""The dynamic-group rule language: validation, SQL compilation, Python evaluation.

A rule is a JSON tree. Inner nodes are ``{"all": [...]}`` (AND; an empty list matches
every device), ``{"any": [...]}`` (OR; empty matches none) and ``{"not": {...}}``. Leaves
are ``{"field": F, "op": O, "value": V}``; the fields and their operators are listed in
breeze.groups.fields (and in docs of the API). Semantics shared by SQL and Python:

* every comparison is false when the device has no value (``ne``/``not_in`` included);
  ``exists`` (value true, the default, or false) tests for a value;
* text matching folds ASCII letters (``Server`` = ``server``); tags, multi-select options
  and dates compare exactly;
* versions compare by breeze.devices.versions.version_key.

``validate_rules`` returns the normalised tree that is stored, ``rule_condition`` compiles
it to one WHERE condition over Device, and ``rule_matches`` evaluates it in Python on
DeviceFacts; a property test checks the two always agree.
"""

from __future__ import annotations

import operator
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ColumnElement,
    Float,
    and_,
    exists,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    true,
)

from breeze.core.pagination import escape_like
from breeze.db.sql import ascii_lower
from breeze.devices.models import (
    Device,
    DeviceDisk,
    DeviceHardware,
    DeviceInventorySection,
    DeviceSoftware,
)
from breeze.devices.sql import bytewise, json_array_contains
from breeze.groups.fields import (
    CUSTOM_PREFIX,
    GB,
    Leaf,
    ascii_fold,
    normalise_leaf,
    parse_node,
)
from breeze.groups.models import DeviceGroupMember
from breeze.groups.sql import (
    json_key_array_contains,
    json_number,
    json_text,
    json_type_is,
)

__all__ = ["DeviceFacts", "rule_condition", "rule_matches", "validate_rules"]


def validate_rules(rules: Any, *, custom_types: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The normalised rule tree, or InvalidInput naming ``rules.<path>``.

    With ``custom_types`` (an organization's custom field key -> type) every
    ``custom.<key>`` leaf must name a defined field and is typed by it; without, a leaf
    must carry its ``type``.
    """

    def leaf(node: dict[str, Any], path: str) -> dict[str, Any]:
        return normalise_leaf(node, path, custom_types)

    parsed: dict[str, Any] = parse_node(rules, "rules", 1, [0], leaf)
    return parsed


# --- SQL ---------------------------------------------------------------------------------

_CMP: dict[str, Callable[[Any, Any], Any]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}
_DEVICE_TEXT = {
    "os_type": Device.os_type,
    "os_version": Device.os_version,
    "hostname": Device.hostname,
    "display_name": Device.display_name,
    "status": Device.status,
    "agent_version": Device.agent_version,
}


def _bool(cond: ColumnElement[bool]) -> ColumnElement[bool]:
    """A condition that is never NULL (NULL counts as false before a NOT)."""
    return func.coalesce(cond, false(), type_=Boolean)


def _not(cond: ColumnElement[bool]) -> ColumnElement[bool]:
    """NOT that treats NULL (an unknown comparison) as false first, as Python does."""
    return not_(_bool(cond))


def _number(value: float) -> Any:
    return literal(value, Float() if isinstance(value, float) else BigInteger())


def _text_sql(col: Any, op: str, value: Any) -> ColumnElement[bool]:
    folded = ascii_lower(col)
    if op == "eq":
        return folded == value  # type: ignore[no-any-return]
    if op == "ne":
        return folded != value  # type: ignore[no-any-return]
    if op == "in":
        return folded.in_(value)
    if op == "not_in":
        return and_(col.is_not(None), folded.not_in(value))
    if op == "exists":
        return col.is_not(None) if value else col.is_(None)  # type: ignore[no-any-return]
    pattern = {
        "contains": "%{}%",
        "starts_with": "{}%",
        "ends_with": "%{}",
    }[op].format(escape_like(value))
    return folded.like(pattern, escape="\\")


def _number_sql(col: Any, op: str, value: Any) -> ColumnElement[bool]:
    if op == "exists":
        return col.is_not(None) if value else col.is_(None)  # type: ignore[no-any-return]
    if op == "in":
        return or_(*[col == _number(v) for v in value])
    if op == "not_in":
        return and_(col.is_not(None), *[col != _number(v) for v in value])
    return _CMP[op](col, _number(value))  # type: ignore[no-any-return]


def _exists_where(model: Any, *conds: Any) -> ColumnElement[bool]:
    return exists(select(1).select_from(model).where(model.device_id == Device.id, *conds))


def _hardware_sql(leaf: Leaf) -> ColumnElement[bool]:
    col = getattr(DeviceHardware, leaf.field)
    if leaf.op == "exists" and not leaf.value:
        return not_(_exists_where(DeviceHardware, col.is_not(None)))
    return _exists_where(DeviceHardware, _number_sql(col, leaf.op, leaf.value))


def _disk_sql(leaf: Leaf) -> ColumnElement[bool]:
    conds = [DeviceDisk.device_id == Device.id]
    if leaf.extra.get("mountpoint") is not None:
        conds.append(DeviceDisk.mountpoint == leaf.extra["mountpoint"])
    smallest = select(func.min(DeviceDisk.free_bytes)).where(*conds).scalar_subquery()
    if leaf.op == "exists":
        return smallest.is_not(None) if leaf.value else smallest.is_(None)  # type: ignore[no-any-return]
    value = leaf.value
    scaled = [v * GB for v in value] if isinstance(value, list) else value * GB
    return _number_sql(smallest, leaf.op, scaled)


def _software_sql(leaf: Leaf) -> ColumnElement[bool]:
    name = leaf.extra["name"]
    folded = ascii_lower(DeviceSoftware.name)
    conds: list[Any] = [
        {
            "eq": folded == name,
            "contains": folded.like(f"%{escape_like(name)}%", escape="\\"),
            "starts_with": folded.like(f"{escape_like(name)}%", escape="\\"),
        }[leaf.extra["name_match"]]
    ]
    if leaf.extra.get("version_op"):
        key = bytewise(DeviceSoftware.version_key)
        conds.append(DeviceSoftware.version_key.is_not(None))
        conds.append(DeviceSoftware.version_key != "")  # a blank version compares with none
        conds.append(_CMP[leaf.extra["version_op"]](key, leaf.extra["version_key"]))
    found = _exists_where(DeviceSoftware, *conds)
    return found if leaf.op == "installed" else not_(found)  # EXISTS: never NULL


def _os_name_sql(leaf: Leaf) -> ColumnElement[bool]:
    name = DeviceInventorySection.data["name"].as_string()
    section = DeviceInventorySection.section == "os"
    if leaf.op == "exists":
        found = _exists_where(DeviceInventorySection, section, name.is_not(None))
        return found if leaf.value else not_(found)
    return _exists_where(DeviceInventorySection, section, _text_sql(name, leaf.op, leaf.value))


def _tags_sql(col: Any, key: str | None, op: str, value: Any) -> ColumnElement[bool]:
    def has(tag: str) -> ColumnElement[bool]:
        if key is None:
            return json_array_contains(col, tag)
        return json_key_array_contains(col, key, tag)

    if op == "exists":
        nonempty = json_type_is(col, key, "nonempty_array")
        return nonempty if value else _not(nonempty)
    if op == "contains":
        return has(value)
    anyof = or_(*[has(v) for v in value])
    if op == "in":
        return anyof
    # not_in: a list (possibly empty) holding none of them.
    return and_(json_type_is(col, key, "array"), _not(anyof))


def _custom_sql(leaf: Leaf) -> ColumnElement[bool]:
    key, kind, op, value = leaf.field[len(CUSTOM_PREFIX) :], leaf.extra["type"], leaf.op, leaf.value
    col = Device.custom_fields
    if kind == "multiselect":
        return _tags_sql(col, key, op, value)
    if kind == "boolean":
        if op == "exists":
            present = json_type_is(col, key, "boolean")
            return present if value else _not(present)
        wanted = value if op == "eq" else not value
        return json_type_is(col, key, "true" if wanted else "false")
    if kind == "number":
        return _number_sql(json_number(col, key), op, value)
    text = json_text(col, key)
    if kind == "date":
        if op == "exists":
            return text.is_not(None) if value else text.is_(None)  # type: ignore[no-any-return]
        if op in ("in", "not_in"):
            listed = bytewise(text).in_(value)
            return listed if op == "in" else and_(text.is_not(None), _not(listed))
        return _CMP[op](bytewise(text), value)  # type: ignore[no-any-return]
    return _text_sql(text, op, value)


def _leaf_sql(leaf: Leaf, now: datetime) -> ColumnElement[bool]:
    f, op, value = leaf.field, leaf.op, leaf.value
    if f in _DEVICE_TEXT:
        return _text_sql(_DEVICE_TEXT[f], op, value)
    if f == "os_name":
        return _os_name_sql(leaf)
    if f == "site_id":
        if op in ("in", "not_in"):
            ids = [uuid.UUID(v) for v in value]
            return Device.site_id.in_(ids) if op == "in" else Device.site_id.not_in(ids)
        return _CMP[op](Device.site_id, uuid.UUID(value))  # type: ignore[no-any-return]
    if f == "tags":
        return _tags_sql(Device.tags, None, op, value)
    if f in ("ram_total_mb", "cpu_cores"):
        return _hardware_sql(leaf)
    if f == "disk_free_gb":
        return _disk_sql(leaf)
    if f == "last_seen_at":
        col = Device.last_seen_at
        if op == "exists":
            return col.is_not(None) if value else col.is_(None)
        cutoff = now - timedelta(days=value)
        return col < cutoff if op == "older_than_days" else col >= cutoff
    if f == "software":
        return _software_sql(leaf)
    if f == "group":
        ids = [uuid.UUID(v) for v in (value if isinstance(value, list) else [value])]
        member = exists(
            select(1)
            .select_from(DeviceGroupMember)
            .where(DeviceGroupMember.device_id == Device.id, DeviceGroupMember.group_id.in_(ids))
        )
        return member if op in ("eq", "in") else not_(member)
    return _custom_sql(leaf)


def rule_condition(rules: dict[str, Any], *, now: datetime) -> ColumnElement[bool]:
    """One WHERE condition over Device selecting the devices ``rules`` (validated) match."""
    if "all" in rules:
        parts = [rule_condition(r, now=now) for r in rules["all"]]
        return and_(true(), *parts) if parts else true()
    if "any" in rules:
        parts = [rule_condition(r, now=now) for r in rules["any"]]
        return or_(false(), *parts) if parts else false()
    if "not" in rules:
        return _not(rule_condition(rules["not"], now=now))
    return _leaf_sql(Leaf.of(rules), now)


# --- Python --------------------------------------------------------------------------------


@dataclass
class DeviceFacts:
    """What rules look at, for one device (the Python twin of the SQL)."""

    id: uuid.UUID = field(default_factory=uuid.uuid4)
    os_type: str = "linux"
    os_version: str = ""
    os_name: str | None = None
    hostname: str = ""
    display_name: str | None = None
    site_id: uuid.UUID | None = None
    status: str = "online"
    tags: list[str] = field(default_factory=list)
    agent_version: str = ""
    last_seen_at: datetime | None = None
    ram_total_mb: int | None = None
    cpu_cores: int | None = None
    # (mountpoint, free bytes or None)
    disks: list[tuple[str, int | None]] = field(default_factory=list)
    # (name, version key or None)
    software: list[tuple[str, str | None]] = field(default_factory=list)
    custom_fields: dict[str, Any] = field(default_factory=dict)
    group_ids: set[uuid.UUID] = field(default_factory=set)


def _text_py(actual: str | None, op: str, value: Any) -> bool:
    if op == "exists":
        return (actual is not None) == bool(value)
    if actual is None:
        return False
    folded = ascii_fold(actual)
    if op == "in":
        return folded in value
    if op == "not_in":
        return folded not in value
    if op == "contains":
        return bool(value in folded)
    if op == "starts_with":
        return folded.startswith(value)
    if op == "ends_with":
        return folded.endswith(value)
    return bool(folded == value) == (op == "eq")


def _number_py(actual: float | None, op: str, value: Any) -> bool:
    if op == "exists":
        return (actual is not None) == bool(value)
    if actual is None:
        return False
    if op == "in":
        return any(actual == v for v in value)
    if op == "not_in":
        return all(actual != v for v in value)
    return bool(_CMP[op](actual, value))


def _list_py(actual: Any, op: str, value: Any) -> bool:
    is_list = isinstance(actual, list)
    texts = [v for v in actual if isinstance(v, str)] if is_list else []
    if op == "exists":
        return (is_list and len(actual) > 0) == bool(value)
    if op == "contains":
        return value in texts
    hit = any(v in texts for v in value)
    return hit if op == "in" else (is_list and not hit)


def _custom_py(leaf: Leaf, facts: DeviceFacts) -> bool:
    key, kind, op, value = leaf.field[len(CUSTOM_PREFIX) :], leaf.extra["type"], leaf.op, leaf.value
    raw = facts.custom_fields.get(key)
    if kind == "multiselect":
        return _list_py(raw, op, value)
    if kind == "boolean":
        present = isinstance(raw, bool)
        if op == "exists":
            return present == bool(value)
        return present and (raw == value) == (op == "eq")
    if kind == "number":
        number = raw if isinstance(raw, int | float) and not isinstance(raw, bool) else None
        return _number_py(number, op, value)
    text = raw if isinstance(raw, str) else None
    if kind == "date":
        if op == "exists":
            return (text is not None) == bool(value)
        if text is None:
            return False
        if op in ("in", "not_in"):
            return (text in value) == (op == "in")
        return bool(_CMP[op](text, value))
    return _text_py(text, op, value)


def _software_py(leaf: Leaf, facts: DeviceFacts) -> bool:
    name, match = leaf.extra["name"], leaf.extra["name_match"]
    version_op = leaf.extra.get("version_op")

    def fits(pkg: tuple[str, str | None]) -> bool:
        folded = ascii_fold(pkg[0])
        ok = {
            "eq": folded == name,
            "contains": name in folded,
            "starts_with": folded.startswith(name),
        }[match]
        if ok and version_op:
            ok = bool(pkg[1]) and bool(_CMP[version_op](pkg[1], leaf.extra["version_key"]))
        return bool(ok)

    found = any(fits(p) for p in facts.software)
    return found if leaf.op == "installed" else not found


def _leaf_py(leaf: Leaf, facts: DeviceFacts, now: datetime) -> bool:
    f, op, value = leaf.field, leaf.op, leaf.value
    if f in _DEVICE_TEXT:
        actual: str | None = getattr(facts, f)
        return _text_py(actual, op, value)
    if f == "os_name":
        return _text_py(facts.os_name, op, value)
    if f == "site_id":
        site = str(facts.site_id) if facts.site_id else None
        if site is None:
            return False
        if op in ("in", "not_in"):
            return (site in value) == (op == "in")
        return bool(site == value) == (op == "eq")
    if f == "tags":
        return _list_py(facts.tags, op, value)
    if f in ("ram_total_mb", "cpu_cores"):
        number: int | None = getattr(facts, f)
        return _number_py(number, op, value)
    if f == "disk_free_gb":
        mount = leaf.extra.get("mountpoint")
        frees = [b for m, b in facts.disks if b is not None and (mount is None or m == mount)]
        smallest = min(frees) if frees else None
        if op == "exists":
            return _number_py(smallest, op, value)
        scaled = [v * GB for v in value] if isinstance(value, list) else value * GB
        return _number_py(smallest, op, scaled)
    if f == "last_seen_at":
        seen = facts.last_seen_at
        if op == "exists":
            return (seen is not None) == bool(value)
        if seen is None:
            return False
        cutoff = now - timedelta(days=value)
        return seen < cutoff if op == "older_than_days" else seen >= cutoff
    if f == "software":
        return _software_py(leaf, facts)
    if f == "group":
        ids = {uuid.UUID(v) for v in (value if isinstance(value, list) else [value])}
        member = bool(ids & facts.group_ids)
        return member if op in ("eq", "in") else not member
    return _custom_py(leaf, facts)


def rule_matches(rules: dict[str, Any], facts: DeviceFacts, *, now: datetime) -> bool:
    """Whether ``rules`` (validated) match this device; agrees with rule_condition."""
    if "all" in rules:
        return all(rule_matches(r, facts, now=now) for r in rules["all"])
    if "any" in rules:
        return any(rule_matches(r, facts, now=now) for r in rules["any"])
    if "not" in rules:
        return not rule_matches(rules["not"], facts, now=now)
    return _leaf_py(Leaf.of(rules), facts, now)
