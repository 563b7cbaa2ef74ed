"""the bots' replies counted per month; a delivery remembers a send that may have arrived

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-06 05:00:00.000000

A new table, ``reply_counts``: how many messages each bot's replies sent in a calendar month
(``channel``, ``month`` as ``2026-12``), which the quota figures add to the outbox's deliveries
(a free Zalo bot's 3,000 messages a month count both, and on Zalo most are replies). It starts
empty: the replies sent before this revision were not counted anywhere.

``deliveries`` gains ``maybe_sent_at``: when a send of it got no answer after its request went
out (a timeout, a proxy's error page), so that the outbox tries it once more at most and the
report says it may have arrived. Nullable, empty on the deliveries there already; and
``parts_total``: how many parts her message had, kept when a second such send of a part
before the last ended it (the parts after it never went: the report says her message is
incomplete, «đã gửi 1/2 phần»).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.base

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reply_counts",
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("channel", "month", name=op.f("pk_reply_counts")),
    )
    # ALTER TABLE … ADD COLUMN, not a batch: on SQLite a batch rebuilds the table (see 0003).
    op.add_column(
        "deliveries",
        sa.Column("maybe_sent_at", storage.base.UTCDateTime(timezone=True), nullable=True),
    )
    op.add_column("deliveries", sa.Column("parts_total", sa.Integer(), nullable=True))


def downgrade() -> None:
    # ALTER TABLE … DROP COLUMN (SQLite 3.35+), not a batch rebuild of the table (see 0003).
    op.drop_column("deliveries", "parts_total")
    op.drop_column("deliveries", "maybe_sent_at")
    op.drop_table("reply_counts")
