"""indexes the web console's lists need at 50,000 devices

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 08:15:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_devices_last_seen", "devices", ["last_seen_at"], unique=False)
    op.create_index("ix_device_changes_time", "device_changes", ["timestamp"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_device_changes_time", table_name="device_changes")
    op.drop_index("ix_devices_last_seen", table_name="devices")
