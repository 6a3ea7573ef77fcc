"""Item leases: concurrent runs of one suite claim items instead of computing them twice.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the leases table."""
    op.create_table(
        "leases",
        sa.Column("suite", sa.String(200), primary_key=True),
        sa.Column("item_key", sa.String(64), primary_key=True),
        sa.Column("run_id", sa.Integer, nullable=False, index=True),
        sa.Column("expires_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    """Drop the leases table."""
    op.drop_table("leases")
