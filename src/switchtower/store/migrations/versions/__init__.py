"""Alembic revisions, oldest first: each adds to the last, none is ever edited."""
