"""listings: drop created_at

A release whose migration cannot be undone: the downgrade adds created_at back NOT NULL with
no default, which PostgreSQL refuses on a table with rows. The rollback must fall back on the
backup deploy.sh took before migrating.

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
    op.drop_column("listings", "created_at")


def downgrade() -> None:
    # Fails on purpose when listings has rows: "column "created_at" ... contains null values".
    op.add_column("listings", sa.Column("created_at", sa.DateTime(timezone=True), nullable=False))
