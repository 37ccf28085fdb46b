"""bot_heartbeats: one row per bot, the bot's liveness

Read by probe's `bot` heartbeat target.

Revision ID: 0001
Revises:
"""
from alembic import op
import sqlalchemy as sa

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    # One row per bot, upserted on every beat (INSERT ... ON CONFLICT (bot_id) DO UPDATE), so
    # the table stays as small as the number of bots. A row per beat that nothing prunes grows
    # without end (~2,900 rows a day per bot at one beat every 30 s). probe reads
    # SELECT max(seen_at) FROM bot_heartbeats.
    op.create_table(
        "bot_heartbeats",
        sa.Column("bot_id", sa.Text(), primary_key=True),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.text("now()")),
        sa.Column("beats", sa.BigInteger(), nullable=False, server_default=sa.text("1")),
    )


def downgrade() -> None:
    op.drop_table("bot_heartbeats")
