"""the dashboard's search looks in a folded text kept with each person; the log's filters
within a meeting read an index

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02 04:00:00.000000

``delegates`` gains ``search_text``: the person's code, name, unit and position without
diacritics or case ("Nguyễn Thị Hà" is "nguyen thi ha"), which the dashboard's search matches
in SQL. Before, every search read all the meeting's people and folded their texts in Python
(bench/README.md, issue 20 point 10). Filled here for the people there are; the writes keep it
since (bot.services.delegates). No index: a search for a part of a text reads every row either
way (a short column: 10,000 rows in about 10 ms).

``audit_log`` gains (meeting_id, action, at): since 0017 every read of the log names its
meeting, and SQLite chose (meeting_id, at) over 0014's (action, at), reading the meeting's
whole log for one kind of change (130 ms at 70,000 entries). Not (meeting_id, actor, at): for
a few accounts (``actor IN``) SQLite still prefers (meeting_id, at), which reads in order.
"""

import re
import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 1000


def _fold(text: str) -> str:
    """bot.domain.typed.fold as of this revision (a migration keeps its own copy: it must fill
    the column as the code of its time did, whatever that function becomes)."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    plain = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    return " ".join(re.sub(r"[^\w]+", " ", plain.casefold()).split())


def upgrade() -> None:
    # ALTER TABLE … ADD COLUMN, not a batch: on SQLite a batch rebuilds the table, and dropping
    # the old one with foreign keys on would cascade to every answer (see 0003).
    op.add_column(
        "delegates",
        sa.Column("search_text", sa.String(length=640), server_default="", nullable=False),
    )
    people = sa.table(
        "delegates",
        sa.column("id", sa.Integer()),
        sa.column("code", sa.String()),
        sa.column("full_name", sa.String()),
        sa.column("organization", sa.String()),
        sa.column("position", sa.String()),
        sa.column("search_text", sa.String()),
    )
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(people.c.id, people.c.code, people.c.full_name, people.c.organization,
                  people.c.position)
    ).all()  # fmt: skip
    filled = [
        {"row_id": row_id, "folded": _fold(f"{code} {name} {organization} {position}")}
        for row_id, code, name, organization, position in rows
    ]
    fill = (
        sa.update(people)
        .where(people.c.id == sa.bindparam("row_id"))
        .values(search_text=sa.bindparam("folded"))
    )
    for start in range(0, len(filled), _BATCH):
        bind.execute(fill, filled[start : start + _BATCH])
    op.create_index("ix_audit_log_meeting_action_at", "audit_log", ["meeting_id", "action", "at"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_meeting_action_at", table_name="audit_log")
    # ALTER TABLE … DROP COLUMN (SQLite 3.35+), not a batch rebuild of the table (see 0003).
    op.drop_column("delegates", "search_text")
