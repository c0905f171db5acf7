"""The rule language as the console shows it: the field catalog the visual rule builder
works from, and rules in words ("OS type is linux AND software 'coreutils' ≥ 9").

Operators and value kinds come from breeze.groups.fields (what rules.py validates), so the
builder never offers a condition the server would refuse for its shape.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from breeze.customfields.models import CustomField
from breeze.groups import fields as rf

OS_TYPES = ("linux", "windows", "macos", "other")
DEVICE_STATUSES = ("online", "offline", "decommissioned")

LABELS = {
    "os_type": "OS type",
    "os_name": "OS name",
    "os_version": "OS version",
    "hostname": "Hostname",
    "display_name": "Display name",
    "status": "Status",
    "agent_version": "Agent version",
    "site_id": "Site",
    "group": "Member of group",
    "tags": "Tags",
    "ram_total_mb": "RAM (MB)",
    "cpu_cores": "CPU cores",
    "disk_free_gb": "Free disk space (GB)",
    "last_seen_at": "Last seen",
    "software": "Software",
}
SECTIONS = (
    ("Device", ("os_type", "os_name", "os_version", "hostname", "display_name", "status")),
    ("Agent and place", ("agent_version", "last_seen_at", "site_id", "group", "tags")),
    ("Hardware", ("ram_total_mb", "cpu_cores", "disk_free_gb")),
    ("Software", ("software",)),
)
HINTS = {
    "os_name": "The product name from inventory, e.g. Debian GNU/Linux 12 (bookworm)",
    "disk_free_gb": "The smallest free space over the device's filesystems",
    "software": "Package name from inventory; optionally compare its version",
}

# Words for operators, by the kind of value they compare.
OP_WORDS: dict[str, dict[str, str]] = {
    "text": {
        "eq": "is",
        "ne": "is not",
        "in": "is one of",
        "not_in": "is none of",
        "contains": "contains",
        "starts_with": "starts with",
        "ends_with": "ends with",
        "exists": "has a value",
    },
    "id": {"eq": "is", "ne": "is not", "in": "is one of", "not_in": "is none of"},
    "tags": {
        "contains": "includes",
        "in": "includes any of",
        "not_in": "includes none of",
        "exists": "has any",
    },
    "number": {
        "eq": "=",
        "ne": "≠",
        "gt": ">",
        "gte": "≥",
        "lt": "<",
        "lte": "≤",
        "in": "is one of",
        "not_in": "is none of",
        "exists": "has a value",
    },
    "time": {
        "older_than_days": "more than … days ago",
        "newer_than_days": "within the last … days",
        "exists": "has a value",
    },
    "software": {"installed": "is installed", "not_installed": "is not installed"},
    "date": {
        "eq": "is",
        "ne": "is not",
        "gt": "is after",
        "gte": "is on or after",
        "lt": "is before",
        "lte": "is on or before",
        "in": "is one of",
        "not_in": "is none of",
        "exists": "has a value",
    },
    "boolean": {"eq": "is", "ne": "is not", "exists": "has a value"},
}
OP_WORDS["options"] = OP_WORDS["tags"]
VERSION_WORDS = {"eq": "=", "ne": "≠", "gt": ">", "gte": "≥", "lt": "<", "lte": "≤"}
NAME_MATCH_WORDS = {"eq": "is", "contains": "contains", "starts_with": "starts with"}


@dataclass(frozen=True)
class Choice:
    value: str
    label: str


def _field(
    key: str,
    label: str,
    kind: str,
    *,
    choices: Sequence[Choice] = (),
    suggestions: Sequence[str] = (),
    hint: str = "",
    ctype: str | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "key": key,
        "label": label,
        "kind": kind,
        "ops": [{"op": op, "label": OP_WORDS[kind][op]} for op in rf.OPS[kind]],
    }
    if choices:
        out["choices"] = [{"value": c.value, "label": c.label} for c in choices]
    if suggestions:
        out["suggestions"] = list(suggestions)
    if hint:
        out["hint"] = hint
    if ctype:
        out["type"] = ctype
    return out


def catalog(
    *,
    sites: Sequence[Choice],
    groups: Sequence[Choice],
    tags: Sequence[str],
    custom_fields: Sequence[CustomField],
) -> dict[str, Any]:
    """Everything the rule builder offers for one organization (JSON-ready)."""
    choices: dict[str, Sequence[Choice]] = {
        "os_type": [Choice(v, v) for v in OS_TYPES],
        "status": [Choice(v, v) for v in DEVICE_STATUSES],
        "site_id": sites,
        "group": groups,
    }
    sections = []
    for title, keys in SECTIONS:
        sections.append(
            {
                "label": title,
                "fields": [
                    _field(
                        key,
                        LABELS[key],
                        rf.KIND[key],
                        choices=choices.get(key, ()),
                        suggestions=tags if key == "tags" else (),
                        hint=HINTS.get(key, ""),
                    )
                    for key in keys
                ],
            }
        )
    if custom_fields:
        sections.append(
            {
                "label": "Custom fields",
                "fields": [
                    _field(
                        rf.CUSTOM_PREFIX + cf.key,
                        cf.name,
                        rf.CUSTOM_KIND[cf.type],
                        choices=[Choice(o, o) for o in cf.options],
                        hint=cf.description,
                        ctype=cf.type,
                    )
                    for cf in custom_fields
                ],
            }
        )
    return {
        "sections": sections,
        "version_ops": [{"op": op, "label": w} for op, w in VERSION_WORDS.items()],
        "name_match": [{"op": op, "label": w} for op, w in NAME_MATCH_WORDS.items()],
    }


# --- rules in words --------------------------------------------------------------------


@dataclass(frozen=True)
class Names:
    """Labels for what rules refer to by id or key."""

    sites: dict[str, str]
    groups: dict[str, str]
    custom: dict[str, str]  # key -> field name


def _kind_of(field: str, leaf: dict[str, Any]) -> str:
    if field.startswith(rf.CUSTOM_PREFIX):
        return rf.CUSTOM_KIND.get(str(leaf.get("type")), "text")
    return rf.KIND.get(field, "text")


def _value_words(value: Any, kind: str, field: str, names: Names) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_value_words(v, kind, field, names) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if kind == "id":
        site = field == "site_id"
        table = names.sites if site else names.groups
        return f"'{table.get(str(value), 'an unknown ' + ('site' if site else 'group'))}'"
    if kind == "number" and isinstance(value, float) and value.is_integer():
        return str(int(value))
    if kind in ("text", "tags", "options", "date"):
        return f"'{value}'"
    return str(value)


def _leaf_words(leaf: dict[str, Any], names: Names) -> str:
    field = str(leaf.get("field", ""))
    op = str(leaf.get("op", ""))
    kind = _kind_of(field, leaf)
    if field.startswith(rf.CUSTOM_PREFIX):
        key = field[len(rf.CUSTOM_PREFIX) :]
        label = names.custom.get(key, key)
    else:
        label = LABELS.get(field, field)
    if kind == "software":
        match = NAME_MATCH_WORDS.get(str(leaf.get("name_match", "eq")), "is")
        text = "software" + ("" if match == "is" else f" whose name {match}")
        text += f" '{leaf.get('name', '')}'"
        if leaf.get("version_op"):
            text += f" {VERSION_WORDS.get(str(leaf['version_op']), '?')} {leaf.get('version')}"
        return f"{text} {'is not installed' if op == 'not_installed' else 'is installed'}"
    if op == "exists":
        present = leaf.get("value", True) is not False
        if kind in ("tags", "options"):
            return f"{label} {'has at least one value' if present else 'is empty'}"
        return f"{label} {'has a value' if present else 'has no value'}"
    if kind == "time":
        days = _value_words(leaf.get("value"), "number", field, names)
        if op == "older_than_days":
            return f"{label} more than {days} days ago"
        return f"{label} within the last {days} days"
    words = OP_WORDS.get(kind, {}).get(op, op)
    text = f"{label} {words} {_value_words(leaf.get('value'), kind, field, names)}"
    if field == "disk_free_gb" and leaf.get("mountpoint"):
        text += f" on {leaf['mountpoint']}"
    return text


def describe(rules: Any, names: Names, *, top: bool = True) -> str:
    """A rule tree in words; nested blocks in parentheses."""
    if not isinstance(rules, dict):
        return "—"
    for key, joiner in (("all", " AND "), ("any", " OR ")):
        if key in rules:
            parts = [describe(c, names, top=False) for c in rules[key]]
            if not parts:
                return "every device" if key == "all" else "no device"
            text = joiner.join(parts)
            return text if top or len(parts) == 1 else f"({text})"
    if "not" in rules:
        return f"NOT {describe(rules['not'], names, top=False)}"
    return _leaf_words(rules, names)


def group_ids_named(rules: Any) -> set[uuid.UUID]:
    """Groups a stored rule tree names (for their labels)."""
    return rf.referenced_groups(rules)
