"""a blob's removal finds the rows that name its bytes in one indexed read

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-05 09:30:00.000000

An index on ``task_evidence.sha256``. Before the office's record is undone («Hủy ghi nhận»)
removes its file from the content-addressed store, and before ``hoinghi purge --drafts``
removes a draft's, storage.queries.blobs_named looks whether any row still names the same
bytes: a task's evidence or a draft's version, in any meeting of the database. The drafts'
digests had an index since 0004; the evidence's had none (0012 added the column), so that look
read every deliverable of every meeting. No other digest column is read by that look.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # CREATE INDEX, not a batch: on SQLite a batch rebuilds the table (see 0003).
    op.create_index("ix_task_evidence_sha256", "task_evidence", ["sha256"])


def downgrade() -> None:
    op.drop_index("ix_task_evidence_sha256", table_name="task_evidence")
