"""Response bodies of the audit log: rows, exports and chain verification."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

ExportFormat = Literal["csv", "json"]


class AuditOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    seq: int
    timestamp: datetime
    partner_id: uuid.UUID | None
    org_id: uuid.UUID | None
    actor_type: str
    actor_id: uuid.UUID | None
    actor_email: str | None
    action: str
    resource_type: str | None
    resource_id: str | None
    resource_name: str | None
    details: dict[str, Any]
    ip_address: str | None
    user_agent: str | None
    result: str
    error_message: str | None
    prev_checksum: str
    checksum: str


EXPORT_COLUMNS: tuple[str, ...] = tuple(AuditOut.model_fields)


class VerifyOut(BaseModel):
    ok: bool
    rows_checked: int
    first_bad_seq: int | None
    first_bad_id: uuid.UUID | None
    reason: str | None
    message: str
