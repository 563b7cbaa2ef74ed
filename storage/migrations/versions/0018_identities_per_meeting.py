"""a chat account is linked once per meeting, not once per database

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02 10:30:00.000000

Several meetings may share one database (issue 22 point 5), and a person invited to the next
conference keeps the chat account they linked for the last one (carried at import by their
phone number, bot.services.delegates). ``channel_identities`` gains ``meeting_id`` (its
delegate's, filled for the rows there are) and its unique key becomes (meeting, channel,
account id) instead of (channel, account id) over the whole database.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("channel_identities", schema=None) as batch_op:
        batch_op.add_column(sa.Column("meeting_id", _ID, nullable=True))
    op.execute(
        "UPDATE channel_identities SET meeting_id = (SELECT delegates.meeting_id FROM delegates "
        "WHERE delegates.id = channel_identities.delegate_id)"
    )
    with op.batch_alter_table("channel_identities", schema=None) as batch_op:
        batch_op.alter_column("meeting_id", existing_type=_ID, nullable=False)
        batch_op.create_foreign_key(
            op.f("fk_channel_identities_meeting_id_meetings"),
            "meetings",
            ["meeting_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.drop_constraint(op.f("uq_channel_identities_channel_external_id"), type_="unique")
        batch_op.create_unique_constraint(
            op.f("uq_channel_identities_meeting_id_channel_external_id"),
            ["meeting_id", "channel", "external_id"],
        )
    # Carrying an account looks it up by channel and id across meetings.
    op.create_index(
        "ix_channel_identities_channel_external_id",
        "channel_identities",
        ["channel", "external_id"],
    )


def downgrade() -> None:
    # Only possible while no account is linked in two meetings.
    op.drop_index("ix_channel_identities_channel_external_id", table_name="channel_identities")
    with op.batch_alter_table("channel_identities", schema=None) as batch_op:
        batch_op.drop_constraint(
            op.f("uq_channel_identities_meeting_id_channel_external_id"), type_="unique"
        )
        batch_op.create_unique_constraint(
            op.f("uq_channel_identities_channel_external_id"), ["channel", "external_id"]
        )
        batch_op.drop_constraint(
            op.f("fk_channel_identities_meeting_id_meetings"), type_="foreignkey"
        )
        batch_op.drop_column("meeting_id")
