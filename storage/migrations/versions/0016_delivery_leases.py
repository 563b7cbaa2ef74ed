"""deliveries carry a lease (claimant and expiry); bots share a send schedule per token

Revision ID: 0016
Revises: 0014
Create Date: 2026-12-02 01:10:00.000000

Several ``hoinghi run`` processes may share one PostgreSQL database (issue 22): a delivery in
flight says who claimed it (``claimed_by``: ``host:pid:random``) and until when the claim holds
(``lease_until``); recovery takes back only leases that expired. ``send_slots`` keeps, per bot
(the hash of its token, never the token), the next moment a send may start and the floors the
last window's starts set for the starts a window later (``floors``, a ring turned by ``turn``),
so that every process sending as one bot draws on one rate. Two nullable columns and a new
table: batch mode for the columns on SQLite.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.base

revision: str = "0016"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(length=80), nullable=True))
        batch.add_column(
            sa.Column("lease_until", storage.base.UTCDateTime(timezone=True), nullable=True)
        )
    op.create_table(
        "send_slots",
        sa.Column("bot_key", sa.String(length=64), nullable=False),
        sa.Column("next_at", sa.Float(), nullable=False),
        sa.Column(
            "floors",
            sa.ARRAY(sa.Float()).with_variant(sa.JSON(), "sqlite"),
            nullable=False,
            server_default="{}",
        ),
        sa.Column("turn", sa.Integer(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("bot_key", name=op.f("pk_send_slots")),
    )


def downgrade() -> None:
    op.drop_table("send_slots")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("lease_until")
        batch.drop_column("claimed_by")
