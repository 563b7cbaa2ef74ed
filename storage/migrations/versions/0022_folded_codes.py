"""a typed code is found in one indexed read: each person keeps her code folded

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05 06:30:00.000000

``delegates`` gains ``folded_code``: the code without case, spaces around it or a Unicode form
of its own (NFC: a code typed decomposed is the same code), as
storage.queries.fold_code matches codes (Python's casefold(), which neither SQLite's lower(),
ASCII only, nor PostgreSQL's matches), and an index on (meeting, folded code). Before, a code
not found as typed nor by ``lower(code)`` (every unknown code: a mistyped sign-in code, a wrong
QR) read all the meeting's codes and folded them in Python, 20 ms at 10,000 people
(bench/README.md). Filled here for the people there are; the writes keep it since
(storage.models.Delegate). Not unique: two codes folding alike cannot come from the lists, but
a database written otherwise must still upgrade (storage.queries.delegate_by_code says which
of them a lookup finds).
"""

import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 1000


def _fold_code(code: str) -> str:
    """storage.models.fold_code as of this revision (a migration keeps its own copy: it must
    fill the column as the code of its time did, whatever that function becomes): NFC, folded,
    NFC again (casefold() does not keep every letter composed)."""
    composed = unicodedata.normalize("NFC", code.strip())
    return unicodedata.normalize("NFC", composed.casefold())


def upgrade() -> None:
    # ALTER TABLE … ADD COLUMN, not a batch: on SQLite a batch rebuilds the table, and dropping
    # the old one with foreign keys on would cascade to every answer (see 0003).
    op.add_column(
        "delegates",
        sa.Column("folded_code", sa.String(length=96), server_default="", nullable=False),
    )
    people = sa.table(
        "delegates",
        sa.column("id", sa.Integer()),
        sa.column("code", sa.String()),
        sa.column("folded_code", sa.String()),
    )
    bind = op.get_bind()
    filled = [
        {"row_id": row_id, "folded": _fold_code(code)}
        for row_id, code in bind.execute(sa.select(people.c.id, people.c.code))
    ]
    fill = (
        sa.update(people)
        .where(people.c.id == sa.bindparam("row_id"))
        .values(folded_code=sa.bindparam("folded"))
    )
    for start in range(0, len(filled), _BATCH):
        bind.execute(fill, filled[start : start + _BATCH])
    op.create_index("ix_delegates_meeting_folded_code", "delegates", ["meeting_id", "folded_code"])


def downgrade() -> None:
    op.drop_index("ix_delegates_meeting_folded_code", table_name="delegates")
    # ALTER TABLE … DROP COLUMN (SQLite 3.35+), not a batch rebuild of the table (see 0003).
    op.drop_column("delegates", "folded_code")
