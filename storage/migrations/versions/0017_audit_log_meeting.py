"""the audit log says which meeting each entry belongs to

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 10:00:00.000000

Several meetings may share one database (issue 22 point 5): each plan's dashboard, report
and ``hoinghi audit export`` show that meeting's entries only, so an entry carries the
meeting whose process wrote it. Entries written before are given theirs from what they are
about (a delegate, an account, a task, a notice, a speech assignment, a check-in, the
meeting itself); the rest (e.g. staff sign-ins) go to the meeting when the database holds
only one, as every database made before this revision does.

Numbered 0017 to leave 0015 and 0016 to branches of the same round; it revises 0014.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# Entries about a row of a table with a meeting_id: the entity's name → that table.
_OWNED = {
    "delegate": "delegates",
    "task": "tasks",
    "outbound_message": "outbound_messages",
    "speech_assignment": "speech_assignments",
    "checkin": "checkins",
}


def upgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("meeting_id", _ID, nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_audit_log_meeting_id_meetings"),
            "meetings",
            ["meeting_id"],
            ["id"],
            ondelete="CASCADE",
        )
    op.create_index("ix_audit_log_meeting_at", "audit_log", ["meeting_id", "at"])
    for entity, table in _OWNED.items():
        # Names from the constant above, never from data; the entity is a bound parameter.
        op.get_bind().execute(
            sa.text(
                f"UPDATE audit_log SET meeting_id = (SELECT {table}.meeting_id FROM {table} "  # noqa: S608
                f"WHERE {table}.id = audit_log.entity_id) "
                "WHERE audit_log.entity = :entity AND audit_log.meeting_id IS NULL"
            ),
            {"entity": entity},
        )
    op.execute(
        "UPDATE audit_log SET meeting_id = (SELECT delegates.meeting_id FROM "
        "channel_identities JOIN delegates ON delegates.id = channel_identities.delegate_id "
        "WHERE channel_identities.id = audit_log.entity_id) "
        "WHERE audit_log.entity = 'identity' AND audit_log.meeting_id IS NULL"
    )
    op.execute(
        "UPDATE audit_log SET meeting_id = (SELECT meetings.id FROM meetings "
        "WHERE meetings.id = audit_log.entity_id) "
        "WHERE audit_log.entity = 'meeting' AND audit_log.meeting_id IS NULL"
    )
    op.execute(
        "UPDATE audit_log SET meeting_id = (SELECT MIN(meetings.id) FROM meetings) "
        "WHERE audit_log.meeting_id IS NULL AND (SELECT COUNT(*) FROM meetings) = 1"
    )


def downgrade() -> None:
    op.drop_index("ix_audit_log_meeting_at", table_name="audit_log")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("fk_audit_log_meeting_id_meetings"), type_="foreignkey")
        batch_op.drop_column("meeting_id")
