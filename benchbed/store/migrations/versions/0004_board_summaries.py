"""Board summaries: per-group means stored at the end of a run, so a million-score board shows
without reading every score.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the board_summaries table (empty: a board's next run fills its row)."""
    op.create_table(
        "board_summaries",
        sa.Column("suite", sa.String(200), primary_key=True),
        sa.Column("plan_hash", sa.String(64), primary_key=True),
        sa.Column("run_ids", sa.Text, nullable=False),
        sa.Column("token", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
    )


def downgrade() -> None:
    """Drop the board_summaries table."""
    op.drop_table("board_summaries")
