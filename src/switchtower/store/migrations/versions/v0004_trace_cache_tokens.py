"""prompt-cache tokens on traces: how much of each prompt the provider read from or
wrote to its prompt cache (priced apart from the rest of the input)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = ("cache_read_tokens", "cache_write_tokens", "cache_write_1h_tokens")


def upgrade() -> None:
    with op.batch_alter_table("traces") as batch:
        for column in _COLUMNS:
            batch.add_column(sa.Column(column, sa.BigInteger(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("traces") as batch:
        for column in reversed(_COLUMNS):
            batch.drop_column(column)
