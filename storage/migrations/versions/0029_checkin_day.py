"""a check-in belongs to a meeting day: a delegate is checked in once each day she comes

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-06 12:00:00.000000

``checkins`` gains ``day``: the meeting day it counts for (``bot.config.Meeting.meeting_day``
of her arrival). The partial unique index that keeps an invitee in once (``uq_checkins_present``,
the rows without an undo) is on (``delegate_id``, ``day``): at a meeting of several days the
desk checks her in again on day two; a one-day meeting has one day, so one check-in as before.

The rows there already get the local date of their arrival (``checked_in_at``) in the meeting's
zone — the running plan's, which ``storage.migrate.upgrade_database`` hands over, else
Asia/Ho_Chi_Minh — and no earlier than the meeting's first day (a desk's trial the evening
before counts for the first day, as the code files it).
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import context, op

import storage.base

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEFAULT_ZONE = "Asia/Ho_Chi_Minh"


def _utc(value: datetime | str) -> datetime:
    """A stored instant as an aware UTC datetime (SQLite hands back text or a naive value)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def upgrade() -> None:
    # Plain ADD COLUMN first (nullable), the days, then a batch for NOT NULL (as 0010 does).
    op.add_column("checkins", sa.Column("day", sa.Date(), nullable=True))
    zone = ZoneInfo(context.config.attributes.get("timezone") or DEFAULT_ZONE)
    connection = op.get_bind()
    rows = connection.execute(
        sa.text(
            "SELECT checkins.id, checkins.checked_in_at, meetings.starts_at FROM checkins"
            " JOIN meetings ON meetings.id = checkins.meeting_id"
        )
    ).all()
    days = []
    for checkin_id, arrived, starts in rows:
        day = _utc(arrived).astimezone(zone).date()
        first = _utc(starts).astimezone(zone).date()
        days.append({"id": checkin_id, "day": max(day, first)})
    if days:
        table = sa.table("checkins", sa.column("id", sa.Integer), sa.column("day", sa.Date))
        connection.execute(
            table.update().where(table.c.id == sa.bindparam("checkin_id")),
            [{"checkin_id": row["id"], "day": row["day"]} for row in days],
        )
    op.drop_index("uq_checkins_present", table_name="checkins")
    # Every row has its day now: NOT NULL, so that no writer can leave a row out of the index
    # (NULLs are distinct in a unique index). One batch (SQLite rebuilds the table, a meeting's
    # check-ins), before the partial index is made again on the rebuilt table.
    with op.batch_alter_table("checkins", schema=None) as batch_op:
        batch_op.alter_column("day", existing_type=sa.Date(), nullable=False)
    op.create_index(
        "uq_checkins_present",
        "checkins",
        ["delegate_id", "day"],
        unique=True,
        sqlite_where=sa.text("undone_at IS NULL"),
        postgresql_where=sa.text("undone_at IS NULL"),
    )


def downgrade() -> None:
    # Back to one live check-in a delegate: the later days' rows are marked undone (kept, as
    # an undo keeps them), her first day's stays.
    connection = op.get_bind()
    rows = connection.execute(
        sa.text(
            "SELECT id, delegate_id FROM checkins WHERE undone_at IS NULL"
            " AND delegate_id IS NOT NULL ORDER BY delegate_id, day, id"
        )
    ).all()
    seen: set[int] = set()
    later = []
    for checkin_id, delegate_id in rows:
        if delegate_id in seen:
            later.append(checkin_id)
        seen.add(delegate_id)
    table = sa.table(
        "checkins",
        sa.column("id", sa.Integer),
        sa.column("undone_at", storage.base.UTCDateTime(timezone=True)),
        sa.column("undone_by", sa.String),
    )
    for checkin_id in later:
        connection.execute(
            table.update()
            .where(table.c.id == checkin_id)
            .values(undone_at=datetime.now(UTC), undone_by="migration:0029")
        )
    op.drop_index("uq_checkins_present", table_name="checkins")
    op.create_index(
        "uq_checkins_present",
        "checkins",
        ["delegate_id"],
        unique=True,
        sqlite_where=sa.text("undone_at IS NULL"),
        postgresql_where=sa.text("undone_at IS NULL"),
    )
    # ALTER TABLE … DROP COLUMN (SQLite 3.35+), not a batch rebuild of the table (see 0003).
    op.drop_column("checkins", "day")
