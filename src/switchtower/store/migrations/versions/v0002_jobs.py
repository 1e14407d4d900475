"""jobs: the queue of deferred requests (provider batch APIs)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
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


revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.Column("updated_at", _timestamp(), nullable=False),
        sa.Column("deadline_at", _timestamp(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("model", sa.String(255), nullable=False),
        sa.Column("fmt", sa.String(32), nullable=False),
        sa.Column("api_key_id", sa.String(255), nullable=True),
        sa.Column("batch_id", sa.String(255), nullable=True),
        sa.Column("lease_until", _timestamp(), nullable=True),
        sa.Column("next_poll_at", _timestamp(), nullable=True),
        sa.Column("request", JSONType, nullable=False),
        sa.Column("fallbacks", JSONType, nullable=False),
        sa.Column("trace", JSONType, nullable=False),
        sa.Column("result", JSONType, nullable=True),
        sa.Column("error_kind", sa.String(255), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
    )
    op.create_index("ix_jobs_status_model_created_at", "jobs", ["status", "model", "created_at"])
    op.create_index("ix_jobs_batch_id", "jobs", ["batch_id"])


def downgrade() -> None:
    op.drop_index("ix_jobs_batch_id", table_name="jobs")
    op.drop_index("ix_jobs_status_model_created_at", table_name="jobs")
    op.drop_table("jobs")
