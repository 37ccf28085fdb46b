"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}
"""
from alembic import op
import sqlalchemy as sa
${imports if imports else ""}
# Short ids (pass --rev-id 0003 to `alembic revision`): probe hands them to rollback hooks,
# which accept only [A-Za-z0-9_][A-Za-z0-9_.-]*.
revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = ${repr(branch_labels)}
depends_on = ${repr(depends_on)}


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    # Must really undo upgrade(): a rollback runs it.
    ${downgrades if downgrades else "pass"}
