"""the office marks a personal invitation as sent: when, by whom, how

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-05 12:45:00.000000

``invitations`` gains ``sent_at``, ``sent_via`` and ``sent_by``: the office's «Đánh dấu đã gửi
giấy mời» (sent by Zalo, SMS, phone, paper or otherwise, by which staff member). On the
invitation, not the person: what was sent is that link, and re-issuing it revokes the row and
adds a new one, whose mark is empty — the new link must be sent again, and no code has to
remember to clear anything. The revoked row keeps its mark, as history beside the audit log.
Nullable, no default: no invitation already there was marked.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.base

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # ALTER TABLE … ADD COLUMN, not a batch: on SQLite a batch rebuilds the table (see 0003).
    op.add_column(
        "invitations",
        sa.Column("sent_at", storage.base.UTCDateTime(timezone=True), nullable=True),
    )
    op.add_column("invitations", sa.Column("sent_via", sa.String(length=16), nullable=True))
    op.add_column("invitations", sa.Column("sent_by", sa.String(length=200), nullable=True))


def downgrade() -> None:
    # ALTER TABLE … DROP COLUMN (SQLite 3.35+), not a batch rebuild of the table (see 0003).
    op.drop_column("invitations", "sent_by")
    op.drop_column("invitations", "sent_via")
    op.drop_column("invitations", "sent_at")
