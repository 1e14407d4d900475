"""job webhooks: where to announce a finished job, and how its delivery goes

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("webhook_url", sa.Text(), nullable=True))
        batch.add_column(sa.Column("notify_state", sa.String(16), nullable=True))
        batch.add_column(
            sa.Column("notify_attempts", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("notify_next_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("notify_error", sa.Text(), nullable=True))
    op.create_index("ix_jobs_notify_state_next_at", "jobs", ["notify_state", "notify_next_at"])


def downgrade() -> None:
    op.drop_index("ix_jobs_notify_state_next_at", table_name="jobs")
    with op.batch_alter_table("jobs") as batch:
        for column in (
            "notify_error",
            "notify_next_at",
            "notify_attempts",
            "notify_state",
            "webhook_url",
        ):
            batch.drop_column(column)
