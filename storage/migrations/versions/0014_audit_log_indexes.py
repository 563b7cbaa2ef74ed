"""the audit log read by who, by kind and by subject, newest first

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 09:00:00.000000

The dashboard's Nhật ký filters the log by its author or by the kind of change, newest first
and a page at a time, and a delegate's page lists the changes about them: at 100,000 rows
(10,000 delegates) each of those read the whole table without an index. Indexes only.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_audit_log_actor_at", "audit_log", ["actor", "at"])
    op.create_index("ix_audit_log_action_at", "audit_log", ["action", "at"])
    op.create_index("ix_audit_log_subject", "audit_log", ["entity", "entity_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_subject", table_name="audit_log")
    op.drop_index("ix_audit_log_action_at", table_name="audit_log")
    op.drop_index("ix_audit_log_actor_at", table_name="audit_log")
