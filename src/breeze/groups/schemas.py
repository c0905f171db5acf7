"""Request and response bodies of device groups."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

MAX_MEMBER_IDS = 1000
RULES_HELP = (
    'Dynamic groups only. A tree of {"all": [...]}, {"any": [...]}, {"not": {...}} and '
    'conditions {"field", "op", "value"}: fields os_type, os_name, os_version, hostname, '
    "display_name, status, agent_version, site_id, group, tags, ram_total_mb, cpu_cores, "
    "disk_free_gb (optional mountpoint), last_seen_at (older_than_days / newer_than_days), "
    'software ({"op": "installed", "name", "version_op", "version"}) and custom.<key>.'
)


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _unique(values: list[uuid.UUID]) -> list[uuid.UUID]:
    return list(dict.fromkeys(values))


Text = Annotated[str, AfterValidator(_no_nul)]
# At least one, checked by the action once the group is known to be visible (so another
# tenant's group answers 404 whatever the body).
DeviceIds = Annotated[
    list[uuid.UUID],
    Field(max_length=MAX_MEMBER_IDS, description="1 to 1000 device ids"),
    AfterValidator(_unique),
]


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GroupCreate(Input):
    org_id: uuid.UUID
    site_id: uuid.UUID | None = Field(
        None, description="Only devices of this site (a child of a site group: that site)"
    )
    parent_id: uuid.UUID | None = Field(
        None, description="A child group only holds devices its parent holds"
    )
    name: Text = Field(min_length=1, max_length=200)
    description: Text = Field("", max_length=5000)
    type: Literal["static", "dynamic"]
    rules: dict[str, Any] | None = Field(None, description=RULES_HELP)


class GroupUpdate(Input):
    name: Text | None = Field(None, min_length=1, max_length=200)
    description: Text | None = Field(None, max_length=5000)
    rules: dict[str, Any] | None = Field(None, description=RULES_HELP)
    parent_id: uuid.UUID | None = Field(None, description="null: a top-level group")


class GroupOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    partner_id: uuid.UUID
    org_id: uuid.UUID
    site_id: uuid.UUID | None
    parent_id: uuid.UUID | None
    name: str
    description: str
    type: str
    rules: dict[str, Any] | None
    predefined: str | None
    evaluated_at: datetime | None
    created_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    member_count: int = 0


class MemberOut(BaseModel):
    device_id: uuid.UUID
    hostname: str
    display_name: str | None
    os_type: str
    status: str
    site_id: uuid.UUID
    added_by: str = Field(description="manual, dynamic_rule or policy")
    added_by_user: uuid.UUID | None
    added_at: datetime


class MembersChange(Input):
    device_ids: DeviceIds


class SkippedMember(BaseModel):
    device_id: uuid.UUID
    reason: str


class MembersResult(BaseModel):
    added: list[uuid.UUID] = Field(default_factory=list)
    removed: list[uuid.UUID] = Field(default_factory=list)
    skipped: list[SkippedMember] = Field(default_factory=list)


class PreviewRequest(Input):
    org_id: uuid.UUID
    site_id: uuid.UUID | None = None
    parent_id: uuid.UUID | None = None
    rules: dict[str, Any] = Field(description=RULES_HELP)
    per_page: int = Field(50, ge=1, le=200, description="How many matching devices to list")


class PreviewDevice(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    hostname: str
    display_name: str | None
    os_type: str
    os_version: str
    status: str
    site_id: uuid.UUID
    last_seen_at: datetime | None


class PreviewOut(BaseModel):
    items: list[PreviewDevice]
    total: int
    rules: dict[str, Any] = Field(description="The rules as they would be stored")
