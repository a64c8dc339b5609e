"""API tokens: created and revoked from the CLI, checked by the server on every request.

Only the sha256 of a token is stored, so a copy of the database holds no
working token; the token itself is printed once, at creation. A token is
random (256 bits), so a plain hash is enough: there is nothing to brute-force
that a slow password hash would protect.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import DictRow

from jobdesk.core.errors import DatabaseUnavailable, InvalidInput
from jobdesk.store.db import AsyncPool

PREFIX = "jd_"
# Longer than any token we make; a longer one is refused before it is hashed.
TOKEN_MAX = 200
ID_MAX = 200

# last_used_at is written at most this often per token: under load, one row
# updated on every request would serialize the requests that share a token.
TOUCH_EVERY_S = 5.0

_COLUMNS = "id, name, user_id, organization_id, is_admin, created_at, last_used_at, revoked_at"


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """Who a token speaks for. Never holds the token itself."""

    id: str
    name: str
    user_id: str
    organization_id: str
    is_admin: bool
    created_at: datetime | None = None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    @property
    def scope(self) -> str | None:
        """The organization whose jobs this token sees; None for an admin (all)."""
        return None if self.is_admin else self.organization_id

    def to_api(self) -> dict[str, Any]:
        return {
            "tokenId": self.id,
            "name": self.name,
            "userId": self.user_id,
            "organizationId": self.organization_id,
            "isAdmin": self.is_admin,
        }


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def _info(row: dict[str, Any]) -> TokenInfo:
    return TokenInfo(
        id=str(row["id"]),
        name=row["name"],
        user_id=row["user_id"],
        organization_id=row["organization_id"],
        is_admin=row["is_admin"],
        created_at=row.get("created_at"),
        last_used_at=row.get("last_used_at"),
        revoked_at=row.get("revoked_at"),
    )


def _check_id(what: str, value: str) -> str:
    value = (value or "").strip()
    if not value or len(value) > ID_MAX or "\x00" in value:
        raise InvalidInput(f"{what} must be 1 to {ID_MAX} characters")
    return value


# -- the CLI's side: synchronous, one connection ------------------------------------------


def create(
    conn: psycopg.Connection[DictRow],
    user_id: str,
    organization_id: str,
    *,
    is_admin: bool = False,
    name: str = "",
) -> tuple[str, TokenInfo]:
    """A new token and its record; the token is not kept anywhere."""
    user_id = _check_id("the user id", user_id)
    organization_id = _check_id("the organization id", organization_id)
    if len(name) > ID_MAX or "\x00" in name:
        raise InvalidInput(f"a token name is at most {ID_MAX} characters")
    token = new_token()
    row = conn.execute(
        f"INSERT INTO api_tokens (name, user_id, organization_id, is_admin, token_hash)"
        f" VALUES (%s, %s, %s, %s, %s) RETURNING {_COLUMNS}",
        (name, user_id, organization_id, is_admin, token_hash(token)),
    ).fetchone()
    assert row is not None
    return token, _info(row)


def revoke(conn: psycopg.Connection[DictRow], token_id: str) -> TokenInfo | None:
    """Revoke by id, or by an id prefix that names exactly one token; None if none matches.

    Raises InvalidInput when a prefix matches several tokens.
    """
    prefix = (token_id or "").strip().lower()
    if len(prefix) < 4 or len(prefix) > 36 or any(c not in "0123456789abcdef-" for c in prefix):
        raise InvalidInput("a token id is the UUID that `jobdesk token list` shows (or its first characters)")
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM api_tokens WHERE id::text LIKE %s", (prefix + "%",)
    ).fetchall()
    if not rows:
        return None
    if len(rows) > 1:
        raise InvalidInput(f"{prefix!r} matches {len(rows)} tokens; give more of the id")
    row = conn.execute(
        f"UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, now()) WHERE id = %s RETURNING {_COLUMNS}",
        (rows[0]["id"],),
    ).fetchone()
    return _info(row) if row else None


def list_tokens(conn: psycopg.Connection[DictRow]) -> list[TokenInfo]:
    rows = conn.execute(f"SELECT {_COLUMNS} FROM api_tokens ORDER BY created_at, id").fetchall()
    return [_info(r) for r in rows]


# -- the server's side: asynchronous, pooled ----------------------------------------------

# One round trip: the lookup, plus the last-used stamp when it is stale. The
# UPDATE re-checks its condition under the row lock, so concurrent requests
# with one token write the row once, not once each.
_AUTHENTICATE = f"""
WITH t AS (
    SELECT {_COLUMNS} FROM api_tokens WHERE token_hash = %(hash)s AND revoked_at IS NULL
), touch AS (
    UPDATE api_tokens SET last_used_at = now()
    WHERE id = (SELECT id FROM t)
      AND (last_used_at IS NULL OR last_used_at < now() - make_interval(secs => %(every)s))
)
SELECT * FROM t
"""


class TokenStore:
    def __init__(self, pool: AsyncPool, touch_every_s: float = TOUCH_EVERY_S) -> None:
        self.pool = pool
        self.touch_every_s = touch_every_s

    async def authenticate(self, token: str) -> TokenInfo | None:
        """The token's record if it exists and is not revoked; raises DatabaseUnavailable."""
        if not token or len(token) > TOKEN_MAX:
            return None
        try:
            async with self.pool.connection() as conn:
                cur = await conn.execute(
                    _AUTHENTICATE, {"hash": token_hash(token), "every": self.touch_every_s}
                )
                row = await cur.fetchone()
        except psycopg.OperationalError as exc:  # PoolTimeout is one too
            raise DatabaseUnavailable(f"PostgreSQL unavailable: {str(exc).splitlines()[0]}") from None
        return _info(row) if row else None

    async def revoked_among(self, token_ids: list[str]) -> set[str]:
        """Those of `token_ids` that are revoked (or gone) now."""
        if not token_ids:
            return set()
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT id::text AS id FROM api_tokens WHERE id = ANY(%s::uuid[]) AND revoked_at IS NULL",
                (token_ids,),
            )
            live = {r["id"] for r in await cur.fetchall()}
        return set(token_ids) - live
