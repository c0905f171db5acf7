"""Request and response bodies of saved views (a user's named filters)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

FILTERS_HELP = (
    "The query parameters of the list (GET /api/v1/devices) as an object, e.g. "
    '{"org_id": "...", "status": "online,offline", "custom_field": "env:prod", "sort": '
    '"-last_seen_at"}; values are strings, numbers, booleans or lists of strings.'
)


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SavedViewCreate(Input):
    name: str = Field(min_length=1, max_length=100)
    resource: Literal["devices"] = "devices"
    filters: dict[str, Any] = Field(default_factory=dict, description=FILTERS_HELP)


class SavedViewUpdate(Input):
    name: str | None = Field(None, min_length=1, max_length=100)
    filters: dict[str, Any] | None = Field(None, description=FILTERS_HELP)


class SavedViewOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    resource: str
    name: str
    filters: dict[str, Any]
    created_at: datetime
    updated_at: datetime
