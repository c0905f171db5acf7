"""device_software indexes for the groups sweep: folded names, missing version keys

(device_id, ASCII-folded name) serves group rules on software; a partial index on rows
without a version_key makes the sweep's backfill look free once it is done.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 14:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The same text breeze.db.sql.ascii_lower compiles to, so the planner matches it.
_FOLDED = {
    "postgresql": "translate(name, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')",
    "sqlite": "lower(name)",
}
_KEY_MISSING = sa.text("version_key IS NULL AND version IS NOT NULL")


def upgrade() -> None:
    folded = _FOLDED[op.get_bind().dialect.name]
    op.create_index(
        "ix_device_software_device_folded_name",
        "device_software",
        ["device_id", sa.text(folded)],
        unique=False,
    )
    op.create_index(
        "ix_device_software_version_key_missing",
        "device_software",
        ["id"],
        unique=False,
        sqlite_where=_KEY_MISSING,
        postgresql_where=_KEY_MISSING,
    )


def downgrade() -> None:
    op.drop_index("ix_device_software_version_key_missing", table_name="device_software")
    op.drop_index("ix_device_software_device_folded_name", table_name="device_software")
