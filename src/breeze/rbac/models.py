"""Roles, permissions and their link (seed 003)."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from breeze.core.tenancy_columns import Tenancy
from breeze.db.base import Base, IdMixin, TimestampMixin


class Permission(IdMixin, Base):
    __tablename__ = "permissions"
    __table_args__ = (UniqueConstraint("resource", "action"),)

    resource: Mapped[str] = mapped_column(String(50))
    action: Mapped[str] = mapped_column(String(30))
    description: Mapped[str] = mapped_column(String(200), default="")


class Role(IdMixin, TimestampMixin, Base):
    __tablename__ = "roles"
    __tenancy__: ClassVar[Tenancy] = Tenancy(partner="partner_id", org="org_id")

    partner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("partners.id"), index=True)
    org_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    scope: Mapped[str] = mapped_column(String(20))  # system | partner | organization
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(String(500), default="")
    is_system: Mapped[bool] = mapped_column(default=False)


class RolePermission(Base):
    __tablename__ = "role_permissions"

    role_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True
    )
    permission_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("permissions.id", ondelete="CASCADE"), primary_key=True
    )
    constraints: Mapped[dict[str, Any]] = mapped_column(default=dict)
