"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-27 22:55:05.876219
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.base

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("entity", sa.String(length=40), nullable=False),
        sa.Column("entity_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_at"), ["at"], unique=False)

    op.create_table(
        "meetings",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("starts_at", storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meetings")),
        sa.UniqueConstraint("code", name=op.f("uq_meetings_code")),
    )
    op.create_table(
        "delegates",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "meeting_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("full_name", sa.String(length=200), nullable=False),
        sa.Column("position", sa.String(length=200), nullable=False),
        sa.Column("organization", sa.String(length=200), nullable=False),
        sa.Column("group_key", sa.String(length=40), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("rank", sa.Integer(), nullable=True),
        sa.Column("created_at", storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["meetings.id"],
            name=op.f("fk_delegates_meeting_id_meetings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delegates")),
        sa.UniqueConstraint("meeting_id", "code", name=op.f("uq_delegates_meeting_id_code")),
    )
    with op.batch_alter_table("delegates", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_delegates_group_key"), ["group_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_delegates_phone"), ["phone"], unique=False)

    op.create_table(
        "channel_identities",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "delegate_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column("chat_address", sa.String(length=64), nullable=False),
        sa.Column("linked_at", storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("linked_via", sa.String(length=16), nullable=False),
        sa.Column("unreachable_at", storage.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("unreachable_reason", sa.String(length=200), nullable=True),
        sa.Column("pending_input", sa.String(length=32), nullable=True),
        sa.Column("pending_data", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["delegate_id"],
            ["delegates.id"],
            name=op.f("fk_channel_identities_delegate_id_delegates"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_identities")),
        sa.UniqueConstraint(
            "channel", "external_id", name=op.f("uq_channel_identities_channel_external_id")
        ),
        sa.UniqueConstraint(
            "delegate_id", "channel", name=op.f("uq_channel_identities_delegate_id_channel")
        ),
    )
    op.create_table(
        "invitations",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "delegate_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("created_at", storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", storage.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["delegate_id"],
            ["delegates.id"],
            name=op.f("fk_invitations_delegate_id_delegates"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitations")),
        sa.UniqueConstraint("token", name=op.f("uq_invitations_token")),
    )
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_invitations_delegate_id"), ["delegate_id"], unique=False
        )

    op.create_table(
        "rsvps",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "delegate_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("substitute_name", sa.String(length=200), nullable=True),
        sa.Column("substitute_position", sa.String(length=200), nullable=True),
        sa.Column("answered_at", storage.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["delegate_id"],
            ["delegates.id"],
            name=op.f("fk_rsvps_delegate_id_delegates"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rsvps")),
        sa.UniqueConstraint("delegate_id", name=op.f("uq_rsvps_delegate_id")),
    )
    with op.batch_alter_table("rsvps", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rsvps_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("rsvps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rsvps_status"))

    op.drop_table("rsvps")
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invitations_delegate_id"))

    op.drop_table("invitations")
    op.drop_table("channel_identities")
    with op.batch_alter_table("delegates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_delegates_phone"))
        batch_op.drop_index(batch_op.f("ix_delegates_group_key"))

    op.drop_table("delegates")
    op.drop_table("meetings")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_at"))

    op.drop_table("audit_log")
