"""Partner -> Organization -> Site (seed 003), soft-deleted."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any, ClassVar

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from breeze.core.tenancy_columns import Tenancy
from breeze.db.base import Base, IdMixin, SoftDeleteMixin, TimestampMixin

ALIVE = text("deleted_at IS NULL")


class Partner(IdMixin, TimestampMixin, SoftDeleteMixin, Base):
    __tablename__ = "partners"
    __tenancy__: ClassVar[Tenancy] = Tenancy(partner="id")
    __table_args__ = (
        Index(
            "uq_partners_slug_alive",
            "slug",
            unique=True,
            sqlite_where=ALIVE,
            postgresql_where=ALIVE,
        ),
    )

    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(20), default="msp")
    plan: Mapped[str] = mapped_column(String(20), default="free")
    max_organizations: Mapped[int | None] = mapped_column(default=None)
    max_devices: Mapped[int | None] = mapped_column(default=None)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    sso_config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    billing_email: Mapped[str | None] = mapped_column(String(320), default=None)


class Organization(IdMixin, TimestampMixin, SoftDeleteMixin, Base):
    __tablename__ = "organizations"
    __tenancy__: ClassVar[Tenancy] = Tenancy(partner="partner_id", org="id")
    __table_args__ = (
        Index(
            "uq_organizations_partner_slug_alive",
            "partner_id",
            "slug",
            unique=True,
            sqlite_where=ALIVE,
            postgresql_where=ALIVE,
        ),
    )

    partner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partners.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(20), default="customer")
    status: Mapped[str] = mapped_column(String(20), default="active")
    max_devices: Mapped[int | None] = mapped_column(default=None)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    sso_config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    contract_start: Mapped[date | None] = mapped_column(default=None)
    contract_end: Mapped[date | None] = mapped_column(default=None)
    billing_contact: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Site(IdMixin, TimestampMixin, SoftDeleteMixin, Base):
    __tablename__ = "sites"
    __tenancy__: ClassVar[Tenancy] = Tenancy(partner="partner_id", org="org_id", site="id")

    # partner_id is denormalised from the organization so that restrict() can
    # scope rows by partner without a join; it never changes (orgs do not move).
    partner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partners.id"), index=True)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[dict[str, Any]] = mapped_column(default=dict)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    contact: Mapped[dict[str, Any]] = mapped_column(default=dict)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
