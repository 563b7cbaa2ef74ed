"""the office publishes documents to every personal page («Tài liệu hội nghị»)

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-05 12:45:00.000000

A new table only (``meeting_documents``): the draft review report, the programme, a summary
the office uploads on the dashboard for every invitee's personal page. Its bytes live in the
content-addressed file store under ``sha256``, indexed like the drafts' and the evidence's
digests: storage.queries.blobs_named reads it before a blob is removed («Hủy ghi nhận»,
``hoinghi purge --drafts``), so a document's bytes stay while a row names them. Nothing
existing changes, so no batch is needed.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.base

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "meeting_documents",
        sa.Column("id", _ID, nullable=False),
        sa.Column("meeting_id", _ID, nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("note", sa.String(length=1000), nullable=True),
        sa.Column("file_name", sa.String(length=300), nullable=False),
        sa.Column("content_type", sa.String(length=120), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("published_by", sa.String(length=200), nullable=False),
        sa.Column("published_at", storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("hidden_at", storage.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["meetings.id"],
            name=op.f("fk_meeting_documents_meeting_id_meetings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting_documents")),
    )
    op.create_index(op.f("ix_meeting_documents_meeting_id"), "meeting_documents", ["meeting_id"])
    op.create_index(op.f("ix_meeting_documents_sha256"), "meeting_documents", ["sha256"])


def downgrade() -> None:
    op.drop_index(op.f("ix_meeting_documents_sha256"), table_name="meeting_documents")
    op.drop_index(op.f("ix_meeting_documents_meeting_id"), table_name="meeting_documents")
    op.drop_table("meeting_documents")
