"""device_commands: drop the foreign keys on the copied place, script and batch columns

A command's partner, organization and site are copied from its device's row, and its
script and batch ids from rows written or read in the same transaction. PostgreSQL
checked each of those five keys once per row: with them, writing a 10,000-device
broadcast's rows took about a third longer (bench/README.md, ninth round). None of the
referenced rows is ever hard-deleted, so their ON DELETE actions never ran. The key on
device_id stays.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 19:45:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (constraint name, column, referenced table, ON DELETE)
_KEYS = (
    ("fk_device_commands_partner_id_partners", "partner_id", "partners", None),
    ("fk_device_commands_org_id_organizations", "org_id", "organizations", None),
    ("fk_device_commands_site_id_sites", "site_id", "sites", None),
    ("fk_device_commands_script_id_scripts", "script_id", "scripts", "SET NULL"),
    ("fk_device_commands_batch_id_script_batches", "batch_id", "script_batches", "SET NULL"),
)


def upgrade() -> None:
    with op.batch_alter_table("device_commands", schema=None) as batch_op:
        for name, _column, _table, _ondelete in _KEYS:
            batch_op.drop_constraint(name, type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("device_commands", schema=None) as batch_op:
        for name, column, table, ondelete in _KEYS:
            batch_op.create_foreign_key(name, table, [column], ["id"], ondelete=ondelete)
