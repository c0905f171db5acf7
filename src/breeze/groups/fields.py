"""The fields of the rule language, their operators and value checks.

=================  ====================================================  ==================
field              operators                                             value
=================  ====================================================  ==================
os_type, os_name,  eq ne in not_in contains starts_with ends_with        text (ASCII case
os_version,        exists                                                folded) or a list
hostname,
display_name,
status,
agent_version
site_id, group     eq ne in not_in                                       a UUID or a list
tags               contains in not_in exists                             a tag or a list
ram_total_mb,      eq ne gt gte lt lte in not_in exists                  a number
cpu_cores,
disk_free_gb
last_seen_at       older_than_days newer_than_days exists                days (a number)
software           installed not_installed                               see below
custom.<key>       by the field's type: text/select like text, number    as the type
                   like numbers, boolean eq ne exists, date eq ne gt gte
                   lt lte in not_in exists (YYYY-MM-DD), multiselect
                   like tags
=================  ====================================================  ==================

``os_name`` is the operating system's product name from inventory ("Windows Server 2022
Datacenter", "Debian GNU/Linux 12 (bookworm)"). ``disk_free_gb`` is the smallest free
space over the device's filesystems, or over one filesystem with ``"mountpoint": "/"``.
``software`` leaves are ``{"field": "software", "op": "installed", "name": "openssl",
"name_match": "eq"|"contains"|"starts_with", "version_op": ">=", "version": "3.0"}``
(``name_match`` defaults to ``eq``; the version part is optional). ``exists`` takes an
optional boolean value (default true; false: the device has no such value).
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from breeze.core.errors import InvalidInput
from breeze.devices.versions import version_key

CUSTOM_PREFIX = "custom."
GB = 1024**3
MAX_DEPTH = 10
MAX_NODES = 200
MAX_LIST = 100
MAX_TEXT = 500
MAX_NUMBER = 1e15
MAX_DAYS = 36_500
CUSTOM_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
CUSTOM_TYPES = ("text", "number", "boolean", "date", "select", "multiselect")

TEXT_OPS = ("eq", "ne", "in", "not_in", "contains", "starts_with", "ends_with", "exists")
ID_OPS = ("eq", "ne", "in", "not_in")
LIST_OPS = ("contains", "in", "not_in", "exists")
NUMBER_OPS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in", "exists")
TIME_OPS = ("older_than_days", "newer_than_days", "exists")
SOFTWARE_OPS = ("installed", "not_installed")
DATE_OPS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in", "exists")
BOOLEAN_OPS = ("eq", "ne", "exists")

TEXT_FIELDS = (
    "os_type",
    "os_name",
    "os_version",
    "hostname",
    "display_name",
    "status",
    "agent_version",
)
KIND = {
    **dict.fromkeys(TEXT_FIELDS, "text"),
    "site_id": "id",
    "group": "id",
    "tags": "tags",
    "ram_total_mb": "number",
    "cpu_cores": "number",
    "disk_free_gb": "number",
    "last_seen_at": "time",
    "software": "software",
}
CUSTOM_KIND = {
    "text": "text",
    "select": "text",
    "number": "number",
    "boolean": "boolean",
    "date": "date",
    "multiselect": "options",
}
OPS = {
    "text": TEXT_OPS,
    "id": ID_OPS,
    "tags": LIST_OPS,
    "options": LIST_OPS,
    "number": NUMBER_OPS,
    "time": TIME_OPS,
    "software": SOFTWARE_OPS,
    "date": DATE_OPS,
    "boolean": BOOLEAN_OPS,
}
VERSION_OPS = {
    "eq": "eq",
    "=": "eq",
    "==": "eq",
    "ne": "ne",
    "!=": "ne",
    "gt": "gt",
    ">": "gt",
    "gte": "gte",
    ">=": "gte",
    "lt": "lt",
    "<": "lt",
    "lte": "lte",
    "<=": "lte",
}
NAME_MATCH = ("eq", "contains", "starts_with")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def ascii_fold(text: str) -> str:
    """ASCII letters lower-cased, nothing else (what the SQL side does on every dialect)."""
    return text.translate(_ASCII_LOWER)


def normalise_tag(text: str) -> str:
    """As devices store tags (breeze.devices.schemas): blanks collapsed, lower case."""
    return " ".join(text.split()).lower()


@dataclass(frozen=True)
class Leaf:
    field: str
    op: str
    value: Any
    extra: dict[str, Any]

    @classmethod
    def of(cls, node: dict[str, Any]) -> Leaf:
        extra = {k: v for k, v in node.items() if k not in ("field", "op", "value")}
        if extra.get("version") is not None:
            extra["version_key"] = version_key(extra["version"])
        extra.setdefault("name_match", "eq")
        return cls(node["field"], node["op"], node.get("value"), extra)


def _bad(path: str, message: str) -> InvalidInput:
    return InvalidInput(message, field=path)


Normaliser = Callable[[dict[str, Any], str], dict[str, Any]]


def parse_node(node: Any, path: str, depth: int, count: list[int], leaf: Normaliser) -> Any:
    """Check one node (recursively); ``count`` carries the number of nodes seen."""
    count[0] += 1
    if count[0] > MAX_NODES:
        raise _bad(path, f"a rule has at most {MAX_NODES} conditions")
    if depth > MAX_DEPTH:
        raise _bad(path, f"rules nest at most {MAX_DEPTH} levels deep")
    if not isinstance(node, dict):
        raise _bad(
            path,
            'expected an object: {"all": [...]}, {"any": [...]}, {"not": {...}} '
            'or {"field": ..., "op": ..., "value": ...}',
        )
    groups = [k for k in ("all", "any", "not") if k in node]
    if groups:
        if len(node) != 1:
            extra = sorted(set(node) - {groups[0]})
            raise _bad(f"{path}.{extra[0]}", f"'{groups[0]}' stands alone in its object")
        key = groups[0]
        if key == "not":
            return {"not": parse_node(node["not"], f"{path}.not", depth + 1, count, leaf)}
        children = node[key]
        if not isinstance(children, list):
            raise _bad(f"{path}.{key}", "expected a list of conditions")
        return {
            key: [
                parse_node(child, f"{path}.{key}.{i}", depth + 1, count, leaf)
                for i, child in enumerate(children)
            ]
        }
    if "field" not in node:
        raise _bad(path, "expected 'all', 'any', 'not' or a condition with 'field'")
    return leaf(node, path)


def _text(value: Any, path: str, *, most: int = MAX_TEXT) -> str:
    if not isinstance(value, str):
        raise _bad(path, "expected a string")
    if len(value) > most:
        raise _bad(path, f"at most {most} characters")
    if "\x00" in value:
        raise _bad(path, "must not contain NUL characters")
    return value


def _number(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _bad(path, "expected a number")
    if not math.isfinite(value) or abs(value) > MAX_NUMBER:
        raise _bad(path, f"expected a finite number of at most {MAX_NUMBER:g}")
    return value


def _uuid(value: Any, path: str) -> str:
    try:
        return str(uuid.UUID(_text(value, path, most=64)))
    except ValueError:
        raise _bad(path, "expected a UUID") from None


def _date(value: Any, path: str) -> str:
    text = _text(value, path, most=10)
    try:
        if not DATE.match(text):
            raise ValueError(text)
        date.fromisoformat(text)
    except ValueError:
        raise _bad(path, "expected a date as YYYY-MM-DD") from None
    return text


def _bool(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise _bad(path, "expected true or false")
    return value


def _scalar(kind: str, value: Any, path: str) -> Any:
    if kind == "text":
        return ascii_fold(_text(value, path))
    if kind == "id":
        return _uuid(value, path)
    if kind == "tags":
        return normalise_tag(_text(value, path, most=200))
    if kind == "options":
        return _text(value, path, most=200)
    if kind == "number":
        return _number(value, path)
    if kind == "date":
        return _date(value, path)
    if kind == "boolean":
        return _bool(value, path)
    raise AssertionError(kind)


def _value(kind: str, op: str, node: dict[str, Any], path: str) -> Any:
    vpath = f"{path}.value"
    if op == "exists":
        return _bool(node.get("value", True), vpath)
    if "value" not in node:
        raise _bad(vpath, f"'{op}' needs a value")
    value = node["value"]
    if kind == "time":
        days = _number(value, vpath)
        if not 0 <= days <= MAX_DAYS:
            raise _bad(vpath, f"days between 0 and {MAX_DAYS}")
        return days
    if op in ("in", "not_in"):
        if not isinstance(value, list) or not value:
            raise _bad(vpath, "expected a non-empty list")
        if len(value) > MAX_LIST:
            raise _bad(vpath, f"at most {MAX_LIST} values")
        return [_scalar(kind, v, f"{vpath}.{i}") for i, v in enumerate(value)]
    return _scalar(kind, value, vpath)


def _software(node: dict[str, Any], path: str, out: dict[str, Any]) -> None:
    if "value" in node:
        raise _bad(f"{path}.value", "software conditions name the package in 'name'")
    if "name" not in node:
        raise _bad(f"{path}.name", "name the package")
    name = ascii_fold(_text(node["name"], f"{path}.name", most=255)).strip()
    if not name:
        raise _bad(f"{path}.name", "name the package")
    out["name"] = name
    match = node.get("name_match", "eq")
    if match not in NAME_MATCH:
        raise _bad(f"{path}.name_match", f"one of {', '.join(NAME_MATCH)}")
    out["name_match"] = match
    if ("version_op" in node) != ("version" in node):
        missing = "version" if "version_op" in node else "version_op"
        raise _bad(f"{path}.{missing}", "give version_op and version together")
    if "version_op" in node:
        op = node["version_op"]
        if not isinstance(op, str) or op not in VERSION_OPS:
            raise _bad(f"{path}.version_op", "one of =, !=, >, >=, <, <= (or eq, ne, gt...)")
        version = _text(node["version"], f"{path}.version", most=255).strip()
        if not version:
            raise _bad(f"{path}.version", "expected a version such as 3.0")
        out["version_op"] = VERSION_OPS[op]
        out["version"] = version


ALLOWED_KEYS = {
    "software": {"field", "op", "name", "name_match", "version_op", "version"},
    "disk_free_gb": {"field", "op", "value", "mountpoint"},
}


def normalise_leaf(
    node: dict[str, Any], path: str, custom_types: Mapping[str, str] | None
) -> dict[str, Any]:
    """The checked, normalised form of one condition."""
    name = node["field"]
    if not isinstance(name, str):
        raise _bad(f"{path}.field", "expected a field name")
    out: dict[str, Any] = {"field": name}
    allowed = ALLOWED_KEYS.get(name, {"field", "op", "value"})
    if name.startswith(CUSTOM_PREFIX):
        key = name[len(CUSTOM_PREFIX) :]
        if not CUSTOM_KEY.match(key):
            raise _bad(f"{path}.field", "custom field keys are lower-case letters, digits, _")
        if custom_types is not None:
            if key not in custom_types:
                raise _bad(f"{path}.field", f"no custom field '{key}' in this organization")
            ctype = custom_types[key]
        else:
            ctype = str(node.get("type"))
            if ctype not in CUSTOM_TYPES:
                raise _bad(f"{path}.type", f"one of {', '.join(CUSTOM_TYPES)}")
        out["type"] = ctype
        kind = CUSTOM_KIND[ctype]
        allowed = {"field", "op", "value", "type"}
    elif name in KIND:
        kind = KIND[name]
    else:
        known = ", ".join([*KIND, "custom.<key>"])
        raise _bad(f"{path}.field", f"unknown field '{name}'; one of {known}")
    unknown = sorted(set(node) - allowed)
    if unknown:
        raise _bad(f"{path}.{unknown[0]}", f"'{unknown[0]}' is not part of a {name} condition")
    op = node.get("op")
    if not isinstance(op, str) or op not in OPS[kind]:
        raise _bad(f"{path}.op", f"for {name} use one of {', '.join(OPS[kind])}")
    out["op"] = op
    if kind == "software":
        _software(node, path, out)
        return out
    out["value"] = _value(kind, op, node, path)
    if name == "disk_free_gb" and "mountpoint" in node:
        out["mountpoint"] = _text(node["mountpoint"], f"{path}.mountpoint")
    return out


def referenced_groups(rules: Any) -> set[uuid.UUID]:
    """The groups a (validated) rule tree names in ``group`` conditions."""
    found: set[uuid.UUID] = set()
    if not isinstance(rules, dict):
        return found
    for key in ("all", "any"):
        for child in rules.get(key) or []:
            found |= referenced_groups(child)
    if "not" in rules:
        found |= referenced_groups(rules["not"])
    if rules.get("field") == "group":
        value = rules.get("value")
        found |= {uuid.UUID(v) for v in (value if isinstance(value, list) else [value])}
    return found


def custom_keys(rules: Any) -> set[str]:
    """The custom field keys a rule tree names."""
    found: set[str] = set()
    if not isinstance(rules, dict):
        return found
    for key in ("all", "any"):
        for child in rules.get(key) or []:
            found |= custom_keys(child)
    if "not" in rules:
        found |= custom_keys(rules["not"])
    field = rules.get("field")
    if isinstance(field, str) and field.startswith(CUSTOM_PREFIX):
        found.add(field[len(CUSTOM_PREFIX) :])
    return found
