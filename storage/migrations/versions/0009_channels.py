"""channels as adapters: roles, accounts used last, menus, string event ids, tagged places

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 12:00:00.000000

Every existing row is kept. What changes shape:

- ``person_roles`` is new (office staff are people with a role);
- ``channel_identities`` gains ``last_seen_at``, ``menu`` and ``recent_events``; its
  ``last_message_id`` (Telegram's rising message ids, compared with ``<=``) goes: a repeated
  event is now recognised by the channel's own id for it, kept in ``recent_events``;
- ``handled_updates`` (integer ids) becomes ``handled_events`` (string ids), rows copied;
- the places reports and office notes go to, and the sources of draft comments, name their
  channel: ``-100123`` becomes ``telegram:-100123``; a file attached to a comment says which
  channel holds it (``draft_comments.file_channel``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.base

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Rows written before this revision all came from Telegram, the only channel there was: the
# statements below name it as 'telegram'.


def upgrade() -> None:
    op.create_table(
        "person_roles",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("granted_at", storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("granted_by", sa.String(length=80), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["delegates.id"],
            name=op.f("fk_person_roles_person_id_delegates"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_roles")),
        sa.UniqueConstraint("person_id", "role", name=op.f("uq_person_roles_person_id_role")),
    )
    op.create_index(op.f("ix_person_roles_person_id"), "person_roles", ["person_id"])

    # Plain ADD/DROP COLUMN, not a batch: a batch rebuilds the table.
    op.add_column(
        "channel_identities",
        sa.Column("last_seen_at", storage.base.UTCDateTime(timezone=True), nullable=True),
    )
    op.add_column("channel_identities", sa.Column("menu", sa.JSON(), nullable=True))
    op.add_column("channel_identities", sa.Column("recent_events", sa.JSON(), nullable=True))
    op.drop_column("channel_identities", "last_message_id")

    op.create_table(
        "handled_events",
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("bot_id", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("handled_at", storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("channel", "bot_id", "event_id", name=op.f("pk_handled_events")),
    )
    op.create_index(op.f("ix_handled_events_handled_at"), "handled_events", ["handled_at"])
    op.execute(
        "INSERT INTO handled_events (channel, bot_id, event_id, handled_at) "
        "SELECT channel, CAST(bot_id AS VARCHAR(64)), CAST(update_id AS VARCHAR(64)), handled_at "
        "FROM handled_updates"
    )
    op.drop_index(op.f("ix_handled_updates_handled_at"), table_name="handled_updates")
    op.drop_table("handled_updates")

    op.add_column("draft_comments", sa.Column("file_channel", sa.String(length=16), nullable=True))
    op.execute("UPDATE draft_comments SET file_channel = 'telegram' WHERE file_ref IS NOT NULL")

    op.execute(
        "UPDATE outbound_messages SET report_to = 'telegram:' || report_to "
        "WHERE report_to IS NOT NULL AND report_to NOT LIKE '%:%'"
    )
    op.execute(
        "UPDATE deliveries SET recipient = 'chat:telegram:' || substr(recipient, 6) "
        "WHERE recipient LIKE 'chat:%' AND substr(recipient, 6) NOT LIKE '%:%'"
    )
    op.execute(
        "UPDATE draft_comments SET source_ref = 'telegram:' || source_ref "
        "WHERE source_ref IS NOT NULL AND source_ref NOT LIKE 'telegram:%'"
    )


def downgrade() -> None:
    op.drop_column("draft_comments", "file_channel")
    # substr() counts from 1: "telegram:" is 9 characters, "chat:telegram:" 14.
    op.execute(
        "UPDATE draft_comments SET source_ref = substr(source_ref, 10) "
        "WHERE source_ref LIKE 'telegram:%'"
    )
    op.execute(
        "UPDATE deliveries SET recipient = 'chat:' || substr(recipient, 15) "
        "WHERE recipient LIKE 'chat:telegram:%'"
    )
    op.execute(
        "UPDATE outbound_messages SET report_to = substr(report_to, 10) "
        "WHERE report_to LIKE 'telegram:%'"
    )

    op.create_table(
        "handled_updates",
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("bot_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("update_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("handled_at", storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("channel", "bot_id", "update_id", name=op.f("pk_handled_updates")),
    )
    op.create_index(op.f("ix_handled_updates_handled_at"), "handled_updates", ["handled_at"])
    # Only Telegram's integer ids fit the old table; events of other channels are dropped.
    op.execute(
        "INSERT INTO handled_updates (channel, bot_id, update_id, handled_at) "
        "SELECT channel, CAST(bot_id AS BIGINT), CAST(event_id AS BIGINT), handled_at "
        "FROM handled_events WHERE channel = 'telegram'"
    )
    op.drop_index(op.f("ix_handled_events_handled_at"), table_name="handled_events")
    op.drop_table("handled_events")

    op.add_column(
        "channel_identities", sa.Column("last_message_id", sa.BigInteger(), nullable=True)
    )
    for column in ("recent_events", "menu", "last_seen_at"):
        op.drop_column("channel_identities", column)

    op.drop_index(op.f("ix_person_roles_person_id"), table_name="person_roles")
    op.drop_table("person_roles")
