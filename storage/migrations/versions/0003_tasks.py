"""tasks: people's role, tasks, assignments, evidence

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 23:56:01.096082
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.base

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tasks",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "meeting_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("key", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("owner", sa.String(length=500), nullable=False),
        sa.Column("deliverable", sa.String(length=500), nullable=True),
        sa.Column("deadline_at", storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("archived_at", storage.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", storage.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(length=80), nullable=True),
        sa.Column("created_at", storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["meetings.id"],
            name=op.f("fk_tasks_meeting_id_meetings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
        sa.UniqueConstraint("meeting_id", "key", name=op.f("uq_tasks_meeting_id_key")),
    )
    op.create_table(
        "task_assignments",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("task_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("updated_at", storage.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_by", sa.String(length=80), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["delegates.id"],
            name=op.f("fk_task_assignments_person_id_delegates"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["tasks.id"],
            name=op.f("fk_task_assignments_task_id_tasks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_assignments")),
        sa.UniqueConstraint(
            "task_id", "person_id", name=op.f("uq_task_assignments_task_id_person_id")
        ),
    )
    with op.batch_alter_table("task_assignments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_task_assignments_person_id"), ["person_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_task_assignments_task_id"), ["task_id"], unique=False)

    op.create_table(
        "task_evidence",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "assignment_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=True),
        sa.Column("file_ref", sa.String(length=200), nullable=True),
        sa.Column("size", sa.Integer(), nullable=True),
        sa.Column("created_at", storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.ForeignKeyConstraint(
            ["assignment_id"],
            ["task_assignments.id"],
            name=op.f("fk_task_evidence_assignment_id_task_assignments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_evidence")),
    )
    with op.batch_alter_table("task_evidence", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_task_evidence_assignment_id"), ["assignment_id"], unique=False
        )

    with op.batch_alter_table("delegates", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("role", sa.String(length=16), server_default="delegate", nullable=False)
        )


def downgrade() -> None:
    # ALTER TABLE … DROP COLUMN (SQLite 3.35+), not a batch: on SQLite a batch rebuilds the
    # table, and dropping the old one with foreign keys on would cascade to every answer.
    op.drop_column("delegates", "role")

    with op.batch_alter_table("task_evidence", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_task_evidence_assignment_id"))

    op.drop_table("task_evidence")
    with op.batch_alter_table("task_assignments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_task_assignments_task_id"))
        batch_op.drop_index(batch_op.f("ix_task_assignments_person_id"))

    op.drop_table("task_assignments")
    op.drop_table("tasks")
