"""calendar revision of the meeting

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 11:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.base

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("calendar_sequence", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("calendar_fingerprint", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("calendar_revised_at", storage.base.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    # ALTER TABLE … DROP COLUMN (SQLite 3.35+), not a batch: on SQLite a batch rebuilds the
    # table, and dropping the old one with foreign keys on would cascade to every delegate.
    for column in ("calendar_revised_at", "calendar_fingerprint", "calendar_sequence"):
        op.drop_column("meetings", column)
