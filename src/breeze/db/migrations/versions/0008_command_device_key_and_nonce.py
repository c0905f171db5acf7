"""device_commands: drop the device foreign key and the nonce's unique constraint

Both were checked for every row a command batch writes; on PostgreSQL together about a
third of the time a 10,000-device broadcast spent writing its rows (bench/README.md,
tenth round). The device id of every command is read from the device's row in the same
transaction, and devices are never hard-deleted (decommissioning keeps the row), so the
key's ON DELETE CASCADE never ran. A nonce is 192 random bits (``secrets``), never looked
up: its unique index was a B-tree kept for nothing.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 23:20:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("device_commands", schema=None) as batch_op:
        batch_op.drop_constraint("fk_device_commands_device_id_devices", type_="foreignkey")
        batch_op.drop_constraint("uq_device_commands_nonce", type_="unique")


def downgrade() -> None:
    with op.batch_alter_table("device_commands", schema=None) as batch_op:
        batch_op.create_unique_constraint("uq_device_commands_nonce", ["nonce"])
        batch_op.create_foreign_key(
            "fk_device_commands_device_id_devices",
            "devices",
            ["device_id"],
            ["id"],
            ondelete="CASCADE",
        )
