"""Gateway API keys: issued and revoked with the CLI, stored hashed in the trace database.

A key is ``st-`` followed by 43 URL-safe random characters (256 bits). Only its
SHA-256 is stored, with a short display prefix so a human can tell keys apart; the key
itself is shown once, when it is created, and never logged.

The ``switchtower_api_keys`` table has its own metadata and is created idempotently
(``CREATE TABLE IF NOT EXISTS``) in whatever database ``storage.url`` names, next to
the traces.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from switchtower.errors import ConfigError
from switchtower.store.migrate import create_tables

__all__ = ["KEY_PREFIX", "ApiKey", "KeyStore", "hash_key"]

#: every issued key starts with this, so it is recognisable in a secret scanner
KEY_PREFIX = "st-"

_metadata = sa.MetaData()

api_keys = sa.Table(
    "switchtower_api_keys",
    _metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("display", sa.String(32), nullable=False),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("revoked_at", sa.Double, nullable=True),
    sa.Column("daily_budget_usd", sa.Double, nullable=True),
    sa.Column("rpm", sa.Integer, nullable=True),
)


def hash_key(secret: str) -> str:
    """The stored form of a key: hex SHA-256 (the key has 256 random bits: no salt needed)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class ApiKey:
    """One issued key (never the secret itself)."""

    id: str
    name: str
    display: str
    created_at: float
    revoked_at: float | None = None
    daily_budget_usd: float | None = None
    rpm: int | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "key": self.display,
            "created_at": self.created_at,
            "revoked_at": self.revoked_at,
            "daily_budget_usd": self.daily_budget_usd,
            "rpm": self.rpm,
            "active": self.active,
        }


def _row_to_key(row: sa.Row[tuple[object, ...]]) -> ApiKey:
    m = row._mapping
    return ApiKey(
        id=str(m["id"]),
        name=str(m["name"]),
        display=str(m["display"]),
        created_at=float(m["created_at"]),
        revoked_at=None if m["revoked_at"] is None else float(m["revoked_at"]),
        daily_budget_usd=None if m["daily_budget_usd"] is None else float(m["daily_budget_usd"]),
        rpm=None if m["rpm"] is None else int(m["rpm"]),
    )


class KeyStore:
    """Create, list, revoke and look up keys. Synchronous (call it off the event loop)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        create_tables(engine, _metadata)  # safe when replicas start together

    @classmethod
    def open(cls, url: str) -> KeyStore:
        from switchtower.store.migrate import create_engine

        try:
            return cls(create_engine(url))
        except sa.exc.SQLAlchemyError as exc:
            raise ConfigError(f"cannot open the key database: {exc}", key="storage.url") from exc

    def create(
        self, name: str, *, daily_budget_usd: float | None = None, rpm: int | None = None
    ) -> tuple[ApiKey, str]:
        """Issue a key; returns the record and the secret (shown once, never stored)."""
        if not name.strip():
            raise ConfigError("a key needs a non-empty name", key="name")
        if daily_budget_usd is not None and daily_budget_usd < 0:
            raise ConfigError("must be >= 0", key="daily_budget_usd")
        if rpm is not None and rpm < 1:
            raise ConfigError("must be >= 1", key="rpm")
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        key = ApiKey(
            id="key_" + uuid.uuid4().hex[:12],
            name=name.strip(),
            display=secret[:7] + "…" + secret[-4:],
            created_at=time.time(),
            daily_budget_usd=daily_budget_usd,
            rpm=rpm,
        )
        with self.engine.begin() as conn:
            conn.execute(
                api_keys.insert().values(
                    id=key.id,
                    name=key.name,
                    display=key.display,
                    key_hash=hash_key(secret),
                    created_at=key.created_at,
                    revoked_at=None,
                    daily_budget_usd=daily_budget_usd,
                    rpm=rpm,
                )
            )
        return key, secret

    def list(self) -> list[ApiKey]:
        with self.engine.connect() as conn:
            rows = conn.execute(api_keys.select().order_by(api_keys.c.created_at)).all()
        return [_row_to_key(r) for r in rows]

    def get(self, key_id: str) -> ApiKey | None:
        with self.engine.connect() as conn:
            row = conn.execute(api_keys.select().where(api_keys.c.id == key_id)).first()
        return None if row is None else _row_to_key(row)

    def revoke(self, key_id: str) -> bool:
        """Mark a key revoked; False when no active key has that id."""
        with self.engine.begin() as conn:
            result = conn.execute(
                api_keys.update()
                .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=time.time())
            )
        return bool(result.rowcount)

    def lookup(self, secret: str) -> ApiKey | None:
        """The key whose hash matches ``secret`` (revoked ones too), else None."""
        if not secret.startswith(KEY_PREFIX):
            return None
        digest = hash_key(secret)
        with self.engine.connect() as conn:
            row = conn.execute(api_keys.select().where(api_keys.c.key_hash == digest)).first()
        if row is None or not secrets.compare_digest(str(row._mapping["key_hash"]), digest):
            return None
        return _row_to_key(row)

    def any_issued(self) -> bool:
        """True once any key was ever issued: from then on the gateway requires keys."""
        with self.engine.connect() as conn:
            return conn.execute(sa.select(api_keys.c.id).limit(1)).first() is not None

    def close(self) -> None:
        self.engine.dispose()
