"""Request and response bodies of users, memberships and invitations."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field

OrgAccess = Literal["all", "selected", "none"]
MAX_IDS = 1000


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


Text = Annotated[str, AfterValidator(_no_nul)]


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class MembershipSet(Input):
    """Where a user belongs and with which role: a partner XOR an organization."""

    partner_id: uuid.UUID | None = Field(None, description="Partner-level membership")
    org_id: uuid.UUID | None = Field(None, description="Organization membership")
    role_id: uuid.UUID
    org_access: OrgAccess | None = Field(
        None, description="Partner memberships: which organizations (default all)"
    )
    org_ids: list[uuid.UUID] | None = Field(
        None, max_length=MAX_IDS, description="Partner memberships with org_access 'selected'"
    )
    site_ids: list[uuid.UUID] | None = Field(
        None, max_length=MAX_IDS, description="Organization memberships: these sites only"
    )


class UserInvite(MembershipSet):
    email: EmailStr
    name: Text | None = Field(None, max_length=200)


class UserUpdate(Input):
    name: Text | None = Field(None, min_length=1, max_length=200)
    status: Literal["active", "disabled"] | None = None


class AcceptInvitation(Input):
    token: str = Field(max_length=500)
    password: str = Field(max_length=1000)
    name: Text | None = Field(None, max_length=200)


class MembershipOut(BaseModel):
    kind: Literal["partner", "organization"]
    partner_id: uuid.UUID
    org_id: uuid.UUID | None
    role_id: uuid.UUID
    role_name: str
    org_access: OrgAccess | None = None
    org_ids: list[uuid.UUID] | None = None
    site_ids: list[uuid.UUID] | None = None


class UserOut(BaseModel):
    id: uuid.UUID
    email: str
    name: str
    status: str
    mfa_enabled: bool
    last_login_at: datetime | None
    created_at: datetime
    memberships: list[MembershipOut] = Field(description="Only the memberships the caller may see")
