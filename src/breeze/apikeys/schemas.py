"""Request and response bodies of API keys. The secret appears only in ApiKeyCreated."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from breeze.db.base import utcnow
from breeze.rbac.catalog import ALL_PERMISSIONS

_KNOWN = frozenset(ALL_PERMISSIONS)


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ApiKeyCreate(Input):
    """A key for one partner (partner_id) or one organization (org_id), never both."""

    name: str = Field(min_length=1, max_length=100)
    partner_id: uuid.UUID | None = None
    org_id: uuid.UUID | None = None
    permissions: list[str] = Field(
        min_length=1,
        max_length=len(ALL_PERMISSIONS),
        description="Permission names ('resource:action'); a subset of the creator's",
    )
    expires_at: AwareDatetime | None = Field(
        None, description="When the key stops working (future, with a time zone)"
    )

    @field_validator("permissions")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = sorted({p for p in value if p not in _KNOWN})
        if unknown:
            raise ValueError(f"unknown permission(s): {', '.join(unknown)}")
        return sorted(set(value))

    @field_validator("expires_at")
    @classmethod
    def _future(cls, value: datetime | None) -> datetime | None:
        if value is not None and value <= utcnow():
            raise ValueError("expires_at must be in the future")
        return value


class ApiKeyUpdate(Input):
    name: str | None = Field(None, min_length=1, max_length=100)


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    prefix: str
    partner_id: uuid.UUID
    org_id: uuid.UUID | None
    user_id: uuid.UUID
    permissions: list[str]
    expires_at: datetime | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The secret; shown only in this answer, never again")
