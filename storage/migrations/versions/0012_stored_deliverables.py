"""a task's deliverable may be a file kept in the file store (uploaded on the personal page)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 22:00:00.000000

``task_evidence`` gains ``sha256``: the digest of a deliverable kept in the content-addressed
store (storage.files), for a file that no chat platform holds. Existing rows keep NULL: their
files are the platform's (``file_ref``) or they are links.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN, not a batch: a batch rebuilds the table.
    op.add_column("task_evidence", sa.Column("sha256", sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column("task_evidence", "sha256")
