"""the meeting day's check-in at the reception desk

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 22:40:00.000000

One new table, ``checkins``: who was let in (an invitee, their substitute, or a guest not on the
list), by whom, at which desk, when, and an undo. Nothing else changes. (Issue 21.)
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.base

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "checkins",
        sa.Column("id", _ID, nullable=False),
        sa.Column("meeting_id", _ID, nullable=False),
        sa.Column("delegate_id", _ID, nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("full_name", sa.String(length=200), nullable=False),
        sa.Column("position", sa.String(length=200), nullable=True),
        sa.Column("organization", sa.String(length=200), nullable=True),
        sa.Column("answer", sa.String(length=16), nullable=True),
        sa.Column("desk", sa.String(length=40), nullable=False),
        sa.Column("checked_in_at", storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("checked_in_by", sa.String(length=80), nullable=False),
        sa.Column("staff_name", sa.String(length=200), nullable=False),
        sa.Column("request_key", sa.String(length=64), nullable=True),
        sa.Column("undone_at", storage.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("undone_by", sa.String(length=80), nullable=True),
        sa.ForeignKeyConstraint(
            ["delegate_id"],
            ["delegates.id"],
            name=op.f("fk_checkins_delegate_id_delegates"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["meetings.id"],
            name=op.f("fk_checkins_meeting_id_meetings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkins")),
        sa.UniqueConstraint("request_key", name=op.f("uq_checkins_request_key")),
    )
    op.create_index(op.f("ix_checkins_meeting_id"), "checkins", ["meeting_id"])
    op.create_index(op.f("ix_checkins_delegate_id"), "checkins", ["delegate_id"])
    # An invitee is in at most once: one row without an undo per delegate.
    op.create_index(
        "uq_checkins_present",
        "checkins",
        ["delegate_id"],
        unique=True,
        sqlite_where=sa.text("undone_at IS NULL"),
        postgresql_where=sa.text("undone_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_checkins_present", table_name="checkins")
    op.drop_index(op.f("ix_checkins_delegate_id"), table_name="checkins")
    op.drop_index(op.f("ix_checkins_meeting_id"), table_name="checkins")
    op.drop_table("checkins")
