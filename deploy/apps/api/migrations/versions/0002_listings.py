"""listings, with two sample rows

The table app/listings.py reads and /health counts.

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    listings = op.create_table(
        "listings",
        sa.Column("id", sa.Integer(), primary_key=True),  # serial
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("price_eur", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.text("now()")),
    )
    op.bulk_insert(listings, [
        {"title": "Two-room flat near the park", "price_eur": 185000},
        {"title": "House with a garden", "price_eur": 420000},
    ])


def downgrade() -> None:
    op.drop_table("listings")
