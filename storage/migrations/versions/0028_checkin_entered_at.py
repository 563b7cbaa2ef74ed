"""when a desk entered a check-in, apart from when the person arrived

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-06 11:40:00.000000

``checkins`` gains ``entered_at``: when the row was written. ``checked_in_at`` stays the time
the person arrived, which the reports and the attendance page read; a desk that lost the
network sends the first tap's time when it taps again (``bot.services.checkin``), and then the
two differ. The undo window and the desk's «Vừa điểm danh» count from the entry. Nullable, no
default: a row written before reads as entered when she arrived (``coalesce``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.base

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # ALTER TABLE … ADD COLUMN, not a batch: on SQLite a batch rebuilds the table (see 0003).
    op.add_column(
        "checkins",
        sa.Column("entered_at", storage.base.UTCDateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    # ALTER TABLE … DROP COLUMN (SQLite 3.35+), not a batch rebuild of the table (see 0003).
    op.drop_column("checkins", "entered_at")
