"""traces and attempts

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# frozen copies of the column types (a migration must not change when models.py does)
JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _timestamp() -> sa.DateTime:
    return sa.DateTime(timezone=True)


revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "traces",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.Column("request_digest", sa.String(128), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=True),
        sa.Column("operation", sa.String(255), nullable=False),
        sa.Column("confidence", sa.Double(), nullable=False),
        sa.Column("tier", sa.String(32), nullable=False),
        sa.Column("model", sa.String(255), nullable=False),
        sa.Column("deadline", sa.String(32), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("error_kind", sa.String(255), nullable=True),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cost_usd", sa.Double(), nullable=False),
        sa.Column("counterfactual_cost_usd", sa.Double(), nullable=False),
        sa.Column("latency_ms", sa.Double(), nullable=False),
        sa.Column("policy_version", sa.String(255), nullable=False),
        sa.Column("experiment", sa.String(255), nullable=True),
        sa.Column("arm", sa.String(255), nullable=True),
        sa.Column("api_key_id", sa.String(255), nullable=True),
        sa.Column("signals", JSONType, nullable=False),
        sa.Column("decision", JSONType, nullable=False),
        sa.Column("outcome_success", sa.Boolean(), nullable=True),
        sa.Column("outcome_score", sa.Double(), nullable=True),
        sa.Column("outcome_comment", sa.Text(), nullable=True),
        sa.Column("outcome_source", sa.String(64), nullable=True),
        sa.Column("outcome_at", _timestamp(), nullable=True),
    )
    op.create_index("ix_traces_created_at", "traces", ["created_at"])
    op.create_index("ix_traces_outcome_at", "traces", ["outcome_at"])
    op.create_index("ix_traces_operation_created_at", "traces", ["operation", "created_at"])
    op.create_table(
        "attempts",
        sa.Column(
            "trace_id",
            sa.String(64),
            sa.ForeignKey("traces.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("seq", sa.Integer(), primary_key=True),
        sa.Column("model", sa.String(255), nullable=False),
        sa.Column("provider", sa.String(255), nullable=False),
        sa.Column("tier", sa.String(32), nullable=False),
        sa.Column("started_at", _timestamp(), nullable=False),
        sa.Column("latency_ms", sa.Double(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("error_kind", sa.String(255), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cost_usd", sa.Double(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("attempts")
    op.drop_index("ix_traces_operation_created_at", table_name="traces")
    op.drop_index("ix_traces_outcome_at", table_name="traces")
    op.drop_index("ix_traces_created_at", table_name="traces")
    op.drop_table("traces")
