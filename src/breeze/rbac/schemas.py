"""Request and response bodies of roles and permissions."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from breeze.rbac.models import Role

RoleScope = Literal["partner", "organization"]
PERMISSIONS_HELP = 'Permission names, "resource:action" (see GET /permissions)'


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


Text = Annotated[str, AfterValidator(_no_nul)]


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PermissionOut(BaseModel):
    resource: str
    action: str
    name: str
    description: str


class RoleCreate(Input):
    name: Text = Field(min_length=1, max_length=100)
    description: Text = Field("", max_length=500)
    scope: RoleScope
    partner_id: uuid.UUID | None = Field(None, description="Owner partner (exclusive with org_id)")
    org_id: uuid.UUID | None = Field(None, description="Owner organization; scope organization")
    permissions: list[str] = Field(max_length=500, description=PERMISSIONS_HELP)


class RoleUpdate(Input):
    name: Text | None = Field(None, min_length=1, max_length=100)
    description: Text | None = Field(None, max_length=500)
    permissions: list[str] | None = Field(None, max_length=500, description=PERMISSIONS_HELP)


class RoleOut(BaseModel):
    id: uuid.UUID
    name: str
    description: str
    scope: str
    partner_id: uuid.UUID | None
    org_id: uuid.UUID | None
    is_system: bool
    permissions: list[str]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, role: Role, permissions: Iterable[str]) -> RoleOut:
        return cls(
            id=role.id,
            name=role.name,
            description=role.description,
            scope=role.scope,
            partner_id=role.partner_id,
            org_id=role.org_id,
            is_system=role.is_system,
            permissions=sorted(permissions),
            created_at=role.created_at,
            updated_at=role.updated_at,
        )
