"""listings: price_eur becomes price_amount, with a currency

The demo's bad release: this migration is sound (its downgrade reverses it), but the code
shipped with it reads a column named price_cents (app/listings.py), so /health fails.

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.alter_column("listings", "price_eur", new_column_name="price_amount")
    op.add_column("listings", sa.Column("currency", sa.Text(), nullable=False,
                                        server_default="EUR"))


def downgrade() -> None:
    op.drop_column("listings", "currency")
    op.alter_column("listings", "price_amount", new_column_name="price_eur")
