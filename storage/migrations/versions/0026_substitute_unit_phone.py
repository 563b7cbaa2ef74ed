"""the substitute's unit and phone, stored apart from her position

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-05 16:10:00.000000

``rsvps`` gains ``substitute_unit`` and ``substitute_phone``: the unit the substitute comes
from (most often the delegate's own, which the forms and the chat offer) and her phone, stored
as a delegate's is (E.164, ``bot.domain.phones``), so the office can call her. Nullable, no
default: an answer given before keeps its glued «chức vụ, đơn vị» in ``substitute_position``,
and the day papers keep reading the unit from it where ``substitute_unit`` is empty.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # ALTER TABLE … ADD COLUMN, not a batch: on SQLite a batch rebuilds the table (see 0003).
    op.add_column("rsvps", sa.Column("substitute_unit", sa.String(length=300), nullable=True))
    op.add_column("rsvps", sa.Column("substitute_phone", sa.String(length=20), nullable=True))


def downgrade() -> None:
    # ALTER TABLE … DROP COLUMN (SQLite 3.35+), not a batch rebuild of the table (see 0003).
    op.drop_column("rsvps", "substitute_phone")
    op.drop_column("rsvps", "substitute_unit")
