"""Admin tokens: what opens the operator's dashboard. Two kinds, either one suffices:

- tokens made by `autotier admin token`, stored only as SHA-256 hashes in the ledger
  database (table `admin_tokens`), shown once, revocable (`autotier admin revoke ID`);
  every gateway process sharing the database accepts them at once;
- `AUTOTIER_ADMIN_TOKEN`, set by the operator in the gateway's environment (at least 16
  characters; compared in constant time).

A token is never logged: it travels in `Authorization: Bearer` or in an HttpOnly cookie,
never in a URL (which access logs keep)."""

from __future__ import annotations

import argparse
import contextlib
import hmac
import os
import secrets
import sys
import threading
import time
from pathlib import Path
from typing import Any

from router.gateway.accounts import _SCHEMA_LOCK_ID, hash_key
from router.gateway.database import POSTGRES, SQLITE, is_database_url, open_database

ADMIN_TOKEN_ENV = "AUTOTIER_ADMIN_TOKEN"
TOKEN_PREFIX = "ata-"
MIN_OPERATOR_TOKEN = 16
SCHEMA = ("CREATE TABLE IF NOT EXISTS admin_tokens (id {id}, token_hash TEXT NOT NULL UNIQUE,"
          " token_hint TEXT NOT NULL, label TEXT NOT NULL DEFAULT '', created DOUBLE PRECISION NOT NULL)")


class AdminTokens:
    """The admin tokens of the ledger database at `location` (SQLite path or
    `postgresql://` URL), plus an optional operator token. Thread-safe; blocking."""

    def __init__(self, location: Path | str, operator_token: str | None = None):
        self.location = str(location)
        self.dialect = POSTGRES if is_database_url(location) else SQLITE
        if operator_token is not None and len(operator_token) < MIN_OPERATOR_TOKEN:
            raise ValueError(f"{ADMIN_TOKEN_ENV} must be at least {MIN_OPERATOR_TOKEN} characters")
        self._operator = operator_token
        self._lock = threading.Lock()
        self._conn = self._connect()
        with self._lock:
            self._conn.execute(self.dialect.begin)
            try:
                if self.dialect is POSTGRES:  # several processes may create it at once
                    self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK_ID,))
                self._conn.execute(SCHEMA.format(id=self.dialect.id_column))
            except BaseException:
                with contextlib.suppress(Exception):
                    self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _connect(self) -> Any:
        return open_database(self.location)

    def _execute(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        if self.dialect is POSTGRES and (self._conn.closed or self._conn.broken):
            self._conn = self._connect()
        return self._conn.execute(self.dialect.sql(sql), params)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def create(self, label: str = "") -> str:
        """A new token (returned once; only its hash is kept)."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._lock:
            self._execute("INSERT INTO admin_tokens (token_hash, token_hint, label, created) VALUES (?, ?, ?, ?)",
                          (hash_key(token), token[:8] + "...", label, time.time()))
        return token

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._execute("SELECT id, token_hint, label, created FROM admin_tokens ORDER BY id").fetchall()
        return [{"id": r[0], "hint": r[1], "label": r[2], "created": r[3]} for r in rows]

    def revoke(self, token_id: int) -> bool:
        with self._lock:
            return bool(self._execute("DELETE FROM admin_tokens WHERE id = ?", (token_id,)).rowcount)

    def any(self) -> bool:
        """Whether any token could open the dashboard now."""
        if self._operator is not None:
            return True
        with self._lock:
            return self._execute("SELECT 1 FROM admin_tokens LIMIT 1").fetchone() is not None

    def valid(self, token: str | None) -> bool:
        """Whether `token` is the operator token or a stored one."""
        if not token:
            return False
        if self._operator is not None and hmac.compare_digest(token.encode(), self._operator.encode()):
            return True
        with self._lock:
            found = self._execute("SELECT 1 FROM admin_tokens WHERE token_hash = ?", (hash_key(token),)).fetchone()
        return found is not None


def main(argv: list[str]) -> int:
    """`autotier admin token|list|revoke`: the dashboard's admin tokens."""
    from router.gateway.cli import _add_database_url, _db_default

    p = argparse.ArgumentParser(prog="autotier admin", description="Admin tokens for the dashboard (/dashboard).")
    p.add_argument("--db", type=Path, default=_db_default(), help="SQLite file (default ./autotier.db)")
    _add_database_url(p)
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("token", help="create an admin token and print it (shown once; stored hashed)")
    t.add_argument("--label", default="", help="who or what the token is for")
    sub.add_parser("list", help="list admin tokens (hints only)")
    r = sub.add_parser("revoke", help="delete an admin token")
    r.add_argument("id", type=int)
    args = p.parse_args(argv)
    try:
        tokens = AdminTokens(args.database_url or args.db)
    except Exception as exc:  # noqa: BLE001 - sqlite3 and psycopg errors alike: say why and stop
        print(f"autotier admin: cannot open the database: {exc}", file=sys.stderr)
        return 2
    try:
        if args.command == "token":
            print(tokens.create(args.label))
            print("admin token created (shown once; only its hash is stored): open /dashboard and paste it, "
                  "or send 'Authorization: Bearer TOKEN' to /dashboard/api/...", file=sys.stderr)
        elif args.command == "list":
            for row in tokens.list():
                created = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(row["created"]))
                print(f"{row['id']:>4}  {row['hint']:12}  {created}  {row['label']}")
        elif not tokens.revoke(args.id):
            print(f"autotier admin: no admin token {args.id}", file=sys.stderr)
            return 1
    finally:
        tokens.close()
    return 0


def operator_token() -> str | None:
    """The operator's token from the environment, if set."""
    return os.environ.get(ADMIN_TOKEN_ENV) or None
