"""the meetings row keeps the plan's end

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-06 18:30:00.000000

``meetings`` gains ``ends_at``: the plan's end, written with its title and start each time the
plan's services are built (``bot.services.meetings.sync_meeting``: ``run`` and the commands
that open the database with the plan). Another
meeting's link, personal code or QR is «đã kết thúc» only after that meeting's last day
(``bot.services.invitations.other_meeting``): judged by its start, a meeting of several days
begun yesterday read as over on its second day. Nullable, no default: a row there already keeps
no end until its plan runs again, and its start stands in, as before.

A downgrade drops the column.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.base

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # ALTER TABLE … ADD COLUMN, not a batch: on SQLite a batch rebuilds the table (see 0003).
    op.add_column(
        "meetings",
        sa.Column("ends_at", storage.base.UTCDateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    # ALTER TABLE … DROP COLUMN (SQLite 3.35+), not a batch rebuild of the table (see 0003).
    op.drop_column("meetings", "ends_at")
