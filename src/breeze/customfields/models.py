"""Custom field definitions per organization. Values live on the device
(``devices.custom_fields``, a JSON object keyed by the field's ``key``) so device lists,
filters and dynamic group rules read them without a join."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from breeze.core.tenancy_columns import Tenancy
from breeze.db.base import Base, IdMixin, JSONType, TimestampMixin

FIELD_TYPES = ("text", "number", "boolean", "date", "select", "multiselect")


class CustomField(IdMixin, TimestampMixin, Base):
    __tablename__ = "custom_fields"
    __tenancy__: ClassVar[Tenancy] = Tenancy(partner="partner_id", org="org_id")
    __table_args__ = (UniqueConstraint("org_id", "key"),)

    partner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partners.id"), index=True)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"))
    key: Mapped[str] = mapped_column(String(64))  # ^[a-z][a-z0-9_]*$
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    type: Mapped[str] = mapped_column(String(16))
    options: Mapped[list[str]] = mapped_column(default=list)  # select / multiselect
    required: Mapped[bool] = mapped_column(default=False)
    default_value: Mapped[Any] = mapped_column(JSONType, nullable=True, default=None)
