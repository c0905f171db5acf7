"""The audit hash chain: checksum = SHA-256(previous checksum || canonical row)."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64
CHAINED_FIELDS = (
    "seq",
    "partner_id",
    "org_id",
    "timestamp",
    "actor_type",
    "actor_id",
    "actor_email",
    "action",
    "resource_type",
    "resource_id",
    "resource_name",
    "details",
    "ip_address",
    "user_agent",
    "result",
    "error_message",
)


def _plain(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        # Microseconds survive both SQLite and PostgreSQL, so they are part of the hash.
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value


def canonical(row: Any) -> str:
    data = {name: _plain(getattr(row, name)) for name in CHAINED_FIELDS}
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def checksum(prev_checksum: str, row: Any) -> str:
    return hashlib.sha256((prev_checksum + canonical(row)).encode()).hexdigest()
