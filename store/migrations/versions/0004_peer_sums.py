"""peer sums and the evidence score: what the portfolio did per month, for peer-relative detection

Revision ID: 0004_peer_sums
Revises: 0003_rejected_once
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

revision = "0004_peer_sums"
down_revision = "0003_rejected_once"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("enterprises", sa.Column("score", sa.Float, nullable=True))
    op.create_table(
        "peer_sums",
        sa.Column("segment", sa.String(64), primary_key=True),
        sa.Column("tbl", sa.String(40), primary_key=True),
        sa.Column("period", sa.Integer, primary_key=True),
        *[sa.Column(f"c{i}", sa.Float, nullable=False, server_default="0") for i in range(9)],
    )


def downgrade() -> None:
    op.drop_table("peer_sums")
    with op.batch_alter_table("enterprises") as batch:
        batch.drop_column("score")
