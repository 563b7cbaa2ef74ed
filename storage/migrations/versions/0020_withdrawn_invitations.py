"""an invitation the office withdrew is marked on its person, with the reason

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05 00:00:00.000000

``delegates`` gains ``withdrawn_at`` and ``withdrawn_reason``: the office takes a person off
the invitation list («Rút giấy mời») without deleting them, so their answer, history and
drafts stay, and re-inviting («Mời lại») clears both. Nullable, no default: everyone already
there is invited, as they were.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.base

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # ALTER TABLE … ADD COLUMN, not a batch: on SQLite a batch rebuilds the table, and dropping
    # the old one with foreign keys on would cascade to every answer (see 0003).
    op.add_column(
        "delegates",
        sa.Column("withdrawn_at", storage.base.UTCDateTime(timezone=True), nullable=True),
    )
    op.add_column("delegates", sa.Column("withdrawn_reason", sa.String(length=500), nullable=True))


def downgrade() -> None:
    # ALTER TABLE … DROP COLUMN (SQLite 3.35+), not a batch rebuild of the table (see 0003).
    op.drop_column("delegates", "withdrawn_reason")
    op.drop_column("delegates", "withdrawn_at")
