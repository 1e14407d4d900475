"""Alembic migrations of the trace store (run by switchtower.store.migrate)."""
