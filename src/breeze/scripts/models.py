"""The script library (with every edit kept as a version) and execution batches.

One execution per device is a ``device_commands`` row of type ``script`` (see
breeze.commands.models); a batch groups the executions one "execute" created.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from breeze.core.tenancy_columns import Tenancy
from breeze.db.base import Base, IdMixin, SoftDeleteMixin, TimestampMixin, utcnow


class Script(IdMixin, TimestampMixin, SoftDeleteMixin, Base):
    """A library script. System scripts have no partner (everyone may read them, nobody
    may edit them); a partner-wide script has no organization."""

    __tablename__ = "scripts"
    __tenancy__: ClassVar[Tenancy] = Tenancy(partner="partner_id", org="org_id")
    __table_args__ = (Index("ix_scripts_partner_org", "partner_id", "org_id"),)

    partner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("partners.id"), default=None)
    org_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organizations.id"), default=None)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(64), default="general")
    os_types: Mapped[list[str]] = mapped_column(default=list)
    language: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text)
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    timeout_seconds: Mapped[int] = mapped_column(default=300)
    run_as: Mapped[str | None] = mapped_column(String(64), default=None)
    # A collector script: the custom field (key, of the device's organization) that the
    # output of a completed run is written to (see breeze.scripts.collector).
    output_field: Mapped[str | None] = mapped_column(String(64), default=None)
    is_system: Mapped[bool] = mapped_column(default=False)
    version: Mapped[int] = mapped_column(default=1)
    created_by: Mapped[uuid.UUID | None] = mapped_column(default=None)


class ScriptVersion(IdMixin, Base):
    """The script as it was after each edit (version 1 is the creation)."""

    __tablename__ = "script_versions"
    __table_args__ = (UniqueConstraint("script_id", "version"),)

    script_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("scripts.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column()
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(64), default="general")
    os_types: Mapped[list[str]] = mapped_column(default=list)
    language: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text)
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    timeout_seconds: Mapped[int] = mapped_column(default=300)
    run_as: Mapped[str | None] = mapped_column(String(64), default=None)
    output_field: Mapped[str | None] = mapped_column(String(64), default=None)
    changed_by: Mapped[uuid.UUID | None] = mapped_column(default=None)
    changed_by_name: Mapped[str | None] = mapped_column(String(255), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ScriptBatch(IdMixin, Base):
    """One "execute" request: which script and version, the (redacted) parameters, what was
    targeted. Progress is counted from its executions (device_commands.batch_id)."""

    __tablename__ = "script_batches"
    __tenancy__: ClassVar[Tenancy] = Tenancy(partner="partner_id", org="org_id")

    partner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partners.id"), index=True)
    org_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organizations.id"), default=None, index=True
    )
    script_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("scripts.id", ondelete="SET NULL"), default=None
    )
    script_version: Mapped[int] = mapped_column()
    script_name: Mapped[str] = mapped_column(String(200))
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)  # secrets redacted
    targets: Mapped[dict[str, Any]] = mapped_column(default=dict)
    total: Mapped[int] = mapped_column(default=0)
    trigger_type: Mapped[str] = mapped_column(String(16), default="manual")
    created_by_type: Mapped[str] = mapped_column(String(16))
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    created_by_name: Mapped[str | None] = mapped_column(String(255), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
