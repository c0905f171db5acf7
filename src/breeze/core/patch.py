"""Applying a PATCH body to a row and describing what changed (for the audit row)."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from typing import Any
from uuid import UUID

from breeze.core.errors import InvalidInput


def _jsonable(value: Any) -> Any:
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


def apply_changes(
    row: Any, changes: dict[str, Any], *, required: frozenset[str] = frozenset()
) -> dict[str, list[Any]]:
    """Set each changed attribute; return {field: [old, new]} for what really changed."""
    diff: dict[str, list[Any]] = {}
    for name, value in changes.items():
        if value is None and name in required:
            raise InvalidInput(f"{name} cannot be null", field=name)
        old = getattr(row, name)
        if old != value:
            setattr(row, name, value)
            diff[name] = [_jsonable(old), _jsonable(value)]
    return diff


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:80] or "tenant"


SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,98}[a-z0-9])?$"
