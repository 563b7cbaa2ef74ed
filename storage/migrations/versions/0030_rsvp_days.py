"""an answer «tham dự» may name its days at a meeting of several days

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-06 15:00:00.000000

``rsvps`` gains ``days``: the meeting days a delegate who answered «tham dự» comes on, as their
ISO dates joined by commas in date order («2026-12-18», «2026-12-17,2026-12-19»), or NULL for
every day — every answer there already, a one-day meeting's every answer, and every answer but
«tham dự». Nullable, no default: ALTER TABLE … ADD COLUMN, not a batch (see 0003).

A downgrade drops the column: an answer for some days becomes «tham dự» for the whole meeting,
as every answer was before.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("rsvps", sa.Column("days", sa.String(length=200), nullable=True))


def downgrade() -> None:
    # ALTER TABLE … DROP COLUMN (SQLite 3.35+), not a batch rebuild of the table (see 0003).
    op.drop_column("rsvps", "days")
