"""Durable device commands and the output they stream while running.

A command row is the single source of truth for one piece of work on one device: it is
created ``pending``, handed out once (``sent``), acknowledged (``running``) and finished
(``completed | failed | timeout | cancelled``). A script execution is a command of type
``script`` that also names its script, version and batch.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from breeze.core.tenancy_columns import Tenancy
from breeze.db.base import Base, IdMixin, TimestampMixin, utcnow

PENDING = "pending"
SENT = "sent"
RUNNING = "running"
COMPLETED = "completed"
FAILED = "failed"
TIMEOUT = "timeout"
CANCELLED = "cancelled"
OPEN_STATES = (PENDING, SENT, RUNNING)
FINAL_STATES = (COMPLETED, FAILED, TIMEOUT, CANCELLED)
STATES = (*OPEN_STATES, *FINAL_STATES)


class DeviceCommand(IdMixin, TimestampMixin, Base):
    __tablename__ = "device_commands"
    __tenancy__: ClassVar[Tenancy] = Tenancy(partner="partner_id", org="org_id", site="site_id")
    __table_args__ = (
        # Hand-out: a device's open commands, oldest first.
        Index("ix_device_commands_device_status", "device_id", "status", "created_at"),
        # The sweep: open commands by state and due time.
        Index("ix_device_commands_status_expires", "status", "expires_at"),
        Index("ix_device_commands_status_deadline", "status", "deadline_at"),
        Index("ix_device_commands_org_created", "org_id", "created_at"),
    )

    # The device and its place when the command was queued, read from the device's row
    # in the same transaction. No foreign keys on these four (nor on script_id and
    # batch_id, set the same way): each was a check per row on PostgreSQL when a
    # 10,000-device broadcast wrote its rows (bench/README.md, ninth and tenth rounds),
    # and none of the rows they name is ever hard-deleted (a device is decommissioned,
    # its row kept).
    partner_id: Mapped[uuid.UUID] = mapped_column()
    org_id: Mapped[uuid.UUID] = mapped_column()
    site_id: Mapped[uuid.UUID] = mapped_column()
    device_id: Mapped[uuid.UUID] = mapped_column()
    type: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Environment names in payload["env"] whose values are secret: redacted from output
    # and answers, and erased from the payload once the command is final.
    secret_names: Mapped[list[str]] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    trigger_type: Mapped[str] = mapped_column(String(16), default="manual")
    created_by_type: Mapped[str] = mapped_column(String(16))  # user | api_key | system
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    created_by_name: Mapped[str | None] = mapped_column(String(255), default=None)
    script_id: Mapped[uuid.UUID | None] = mapped_column(default=None, index=True)
    script_version: Mapped[int | None] = mapped_column(default=None)
    batch_id: Mapped[uuid.UUID | None] = mapped_column(default=None, index=True)
    rerun_of: Mapped[uuid.UUID | None] = mapped_column(default=None)
    # 192 random bits (`secrets.token_urlsafe(24)`), never looked up: no unique index.
    nonce: Mapped[str] = mapped_column(String(64))
    timeout_seconds: Mapped[int] = mapped_column(default=300)
    expires_at: Mapped[datetime] = mapped_column()  # must have started by then
    deadline_at: Mapped[datetime | None] = mapped_column(default=None)  # sweep times out after
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    delivery_count: Mapped[int] = mapped_column(default=0)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)
    exit_code: Mapped[int | None] = mapped_column(default=None)
    stdout: Mapped[str | None] = mapped_column(Text, default=None)
    stderr: Mapped[str | None] = mapped_column(Text, default=None)
    stdout_truncated: Mapped[bool] = mapped_column(default=False)
    stderr_truncated: Mapped[bool] = mapped_column(default=False)
    duration_ms: Mapped[int | None] = mapped_column(BigInteger, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    result_details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    result_late: Mapped[bool] = mapped_column(default=False)
    cancel_requested_at: Mapped[datetime | None] = mapped_column(default=None)
    cancel_requested_by: Mapped[str | None] = mapped_column(String(255), default=None)


class CommandOutputChunk(IdMixin, Base):
    """Output streamed by a running command, kept so a late viewer sees it from the start.
    Deleted when the final result (which carries the whole capped output) arrives."""

    __tablename__ = "command_output_chunks"
    __table_args__ = (UniqueConstraint("command_id", "seq"),)

    command_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("device_commands.id", ondelete="CASCADE")
    )
    seq: Mapped[int] = mapped_column()
    stream: Mapped[str] = mapped_column(String(8))
    data: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
