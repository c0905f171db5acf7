"""Device groups and their memberships.

A group belongs to an organization (optionally to one of its sites) and may sit under a
parent group: a child only holds devices its parent may hold. A static group's members are
added by hand; a dynamic group's members are whatever its rules match, kept up to date when
inventory changes, when the rules change and by a periodic sweep (rules on time such as
"offline for more than 7 days").
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from breeze.core.tenancy_columns import Tenancy
from breeze.db.base import Base, IdMixin, TimestampMixin, utcnow

STATIC = "static"
DYNAMIC = "dynamic"
ADDED_MANUAL = "manual"
ADDED_RULE = "dynamic_rule"
ADDED_POLICY = "policy"


class DeviceGroup(IdMixin, TimestampMixin, Base):
    __tablename__ = "device_groups"
    __tenancy__: ClassVar[Tenancy] = Tenancy(partner="partner_id", org="org_id", site="site_id")
    __table_args__ = (
        UniqueConstraint("org_id", "name", name="uq_device_groups_org_name"),
        # One of each predefined group per organization.
        UniqueConstraint("org_id", "predefined", name="uq_device_groups_org_predefined"),
    )

    partner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partners.id"), index=True)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"))
    site_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("sites.id"), default=None)
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("device_groups.id"), default=None, index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    type: Mapped[str] = mapped_column(String(16))  # static | dynamic
    rules: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    predefined: Mapped[str | None] = mapped_column(String(32), default=None)
    evaluated_at: Mapped[datetime | None] = mapped_column(default=None)
    created_by: Mapped[uuid.UUID | None] = mapped_column(default=None)


class DeviceGroupMember(Base):
    __tablename__ = "device_group_members"
    __table_args__ = (Index("ix_device_group_members_device", "device_id"),)

    group_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("device_groups.id", ondelete="CASCADE"), primary_key=True
    )
    device_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    added_by: Mapped[str] = mapped_column(String(16))  # manual | dynamic_rule | policy
    added_by_user: Mapped[uuid.UUID | None] = mapped_column(default=None)
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
