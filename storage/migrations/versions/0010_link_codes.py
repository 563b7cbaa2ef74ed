"""personal codes beside the invitation tokens

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 22:00:00.000000

Every invitation gets a personal code (``link_code``): eight characters a person types from
paper where no link can carry the token (Zalo). Existing rows, revoked ones too, get a fresh code
each, so the column can be NOT NULL and unique; a revoked code stays unknown to the bot.
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# bot.domain.tokens' alphabet and length as they were at this revision (a migration never
# imports the code it migrates for: that code may change after it).
ALPHABET = "23456789BCFGHJKMNPQRSTVXZ"
LENGTH = 8


def upgrade() -> None:
    # Plain ADD COLUMN first (nullable), the codes, then one batch for NOT NULL and UNIQUE:
    # SQLite can change neither in place. Nothing refers to invitations, so the table's rebuild
    # cascades to nothing.
    op.add_column("invitations", sa.Column("link_code", sa.String(length=8), nullable=True))
    connection = op.get_bind()
    ids = connection.execute(sa.text("SELECT id FROM invitations ORDER BY id")).scalars().all()
    taken: set[str] = set()
    for invitation_id in ids:
        code = ""
        while not code or code in taken:
            code = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
        taken.add(code)
        connection.execute(
            sa.text("UPDATE invitations SET link_code = :code WHERE id = :id"),
            {"code": code, "id": invitation_id},
        )
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.alter_column("link_code", existing_type=sa.String(length=8), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_invitations_link_code"), ["link_code"])


def downgrade() -> None:
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_invitations_link_code"), type_="unique")
        batch_op.drop_column("link_code")
