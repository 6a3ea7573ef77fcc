"""Runs record their process id (stale `running` rows are marked interrupted); 64-bit seeds.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add runs.pid; widen items.seed to 64 bits (SQLite's INTEGER already is)."""
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("pid", sa.Integer, nullable=True))
    if op.get_bind().dialect.name != "sqlite":
        # derive_seed() yields values up to 2**32 - 1, past a signed 32-bit INTEGER
        op.alter_column("items", "seed", type_=sa.BigInteger, existing_nullable=False)


def downgrade() -> None:
    """Drop runs.pid (seeds stay 64-bit: narrowing could overflow)."""
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("pid")
