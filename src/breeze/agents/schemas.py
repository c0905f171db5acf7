"""Request and response bodies of enrollment keys. The secret appears only in
EnrollmentKeyCreated."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from breeze.db.base import utcnow

MAX_INT32 = 2_147_483_647


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _future(value: datetime | None) -> datetime | None:
    if value is not None and value <= utcnow():
        raise ValueError("expires_at must be in the future")
    return value


class EnrollmentKeyCreate(Input):
    """A key that enrolls agents into one organization (and, optionally, one site)."""

    name: str = Field(min_length=1, max_length=100)
    org_id: uuid.UUID
    site_id: uuid.UUID | None = Field(
        None, description="Site new devices join; default: the organization's first site"
    )
    expires_at: AwareDatetime | None = Field(
        None, description="When the key stops working (future, with a time zone)"
    )
    max_uses: int | None = Field(
        None, ge=1, le=MAX_INT32, description="How many enrollments the key allows"
    )

    _check_expiry = field_validator("expires_at")(_future)


class EnrollmentKeyUpdate(Input):
    """null clears expires_at or max_uses (the key then never expires / has no limit)."""

    name: str | None = Field(None, min_length=1, max_length=100)
    expires_at: AwareDatetime | None = None
    max_uses: int | None = Field(None, ge=1, le=MAX_INT32)

    _check_expiry = field_validator("expires_at")(_future)


class EnrollmentKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    prefix: str
    partner_id: uuid.UUID
    org_id: uuid.UUID
    site_id: uuid.UUID | None
    expires_at: datetime | None
    max_uses: int | None
    uses: int
    revoked_at: datetime | None
    created_by: uuid.UUID | None
    created_at: datetime


class EnrollmentKeyCreated(EnrollmentKeyOut):
    key: str = Field(description="The secret; shown only in this answer, never again")
    install_command: str = Field(description="Shell command that installs and enrolls an agent")
