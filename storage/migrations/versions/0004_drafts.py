"""speech drafts: assignments, versions, comments

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 01:08:00.258652
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.base

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "speech_assignments",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "meeting_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("theme_key", sa.String(length=16), nullable=False),
        sa.Column(
            "person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("deadline_at", storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", storage.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_at", storage.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("status_by", sa.String(length=80), nullable=True),
        sa.Column("text_buffer", sa.JSON(), nullable=True),
        sa.Column("created_at", storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["meetings.id"],
            name=op.f("fk_speech_assignments_meeting_id_meetings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["delegates.id"],
            name=op.f("fk_speech_assignments_person_id_delegates"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_speech_assignments")),
        sa.UniqueConstraint(
            "meeting_id",
            "theme_key",
            "person_id",
            name=op.f("uq_speech_assignments_meeting_id_theme_key_person_id"),
        ),
    )
    with op.batch_alter_table("speech_assignments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_speech_assignments_deadline_at"), ["deadline_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_speech_assignments_person_id"), ["person_id"], unique=False
        )

    op.create_table(
        "draft_versions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "assignment_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("display_name", sa.String(length=300), nullable=False),
        sa.Column("suffix", sa.String(length=10), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=True),
        sa.Column("file_ref", sa.String(length=200), nullable=True),
        sa.Column("created_at", storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.ForeignKeyConstraint(
            ["assignment_id"],
            ["speech_assignments.id"],
            name=op.f("fk_draft_versions_assignment_id_speech_assignments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_draft_versions")),
        sa.UniqueConstraint(
            "assignment_id", "number", name=op.f("uq_draft_versions_assignment_id_number")
        ),
    )
    with op.batch_alter_table("draft_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_draft_versions_assignment_id"), ["assignment_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_draft_versions_sha256"), ["sha256"], unique=False)

    op.create_table(
        "draft_comments",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "assignment_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "version_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("from_office", sa.Boolean(), nullable=False),
        sa.Column("author", sa.String(length=80), nullable=False),
        sa.Column("author_name", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("file_ref", sa.String(length=200), nullable=True),
        sa.Column("file_name", sa.String(length=300), nullable=True),
        sa.Column("source_ref", sa.String(length=64), nullable=True),
        sa.Column("created_at", storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["assignment_id"],
            ["speech_assignments.id"],
            name=op.f("fk_draft_comments_assignment_id_speech_assignments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["draft_versions.id"],
            name=op.f("fk_draft_comments_version_id_draft_versions"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_draft_comments")),
        sa.UniqueConstraint("source_ref", name=op.f("uq_draft_comments_source_ref")),
    )
    with op.batch_alter_table("draft_comments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_draft_comments_assignment_id"), ["assignment_id"], unique=False
        )

    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_deliveries_platform_message", ["chat_address", "platform_message_id"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_platform_message")

    with op.batch_alter_table("draft_comments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_draft_comments_assignment_id"))

    op.drop_table("draft_comments")
    with op.batch_alter_table("draft_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_draft_versions_sha256"))
        batch_op.drop_index(batch_op.f("ix_draft_versions_assignment_id"))

    op.drop_table("draft_versions")
    with op.batch_alter_table("speech_assignments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_speech_assignments_person_id"))
        batch_op.drop_index(batch_op.f("ix_speech_assignments_deadline_at"))

    op.drop_table("speech_assignments")
