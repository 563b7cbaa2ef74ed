"""a notice is numbered 1, 2, 3 … within its meeting, in the order the office confirmed it

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05 00:00:00.000000

``outbound_messages`` gains ``number``: the office's notices were called by the outbox row's
id («thông báo số 35» for the first one), which counts every reminder and draft too. A notice
gets its number when the office confirms it (sends it or schedules it), the next of its meeting,
and keeps it, cancelled or not. Notices confirmed before this migration are numbered in the
order of their ids, which is the order they were written; drafts and other kinds stay NULL.
A unique index on (meeting, number): NULLs never collide, two notices never share a number.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # ALTER TABLE … ADD COLUMN, not a batch: on SQLite a batch rebuilds the table, and dropping
    # the old one with foreign keys on would cascade to every delivery (see 0003).
    op.add_column("outbound_messages", sa.Column("number", sa.Integer(), nullable=True))
    # Every notice once confirmed has a time (a draft dropped unconfirmed has none).
    op.execute(
        "UPDATE outbound_messages SET number = ("
        " SELECT count(*) FROM outbound_messages AS earlier"
        " WHERE earlier.meeting_id = outbound_messages.meeting_id"
        " AND earlier.kind = 'broadcast' AND earlier.due_at IS NOT NULL"
        " AND earlier.id <= outbound_messages.id)"
        " WHERE kind = 'broadcast' AND due_at IS NOT NULL"
    )
    op.create_index(
        "ux_outbound_messages_number",
        "outbound_messages",
        ["meeting_id", "number"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("ux_outbound_messages_number", table_name="outbound_messages")
    # ALTER TABLE … DROP COLUMN (SQLite 3.35+), not a batch rebuild of the table (see 0003).
    op.drop_column("outbound_messages", "number")
