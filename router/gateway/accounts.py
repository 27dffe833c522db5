"""Accounts, balances and the usage ledger in SQLite (WAL mode). API keys are stored
only as SHA-256 hashes; a key is shown once, when the account is created."""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

KEY_PREFIX = "at-"

SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key_hash TEXT NOT NULL UNIQUE,
    key_hint TEXT NOT NULL,
    balance REAL NOT NULL DEFAULT 0,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS usage (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time REAL NOT NULL,
    account_id INTEGER,
    api TEXT NOT NULL,
    tier TEXT,
    requested_model TEXT,
    resolved_model TEXT,
    fallbacks_tried TEXT NOT NULL DEFAULT '',
    tokens_in INTEGER NOT NULL DEFAULT 0,
    tokens_out INTEGER NOT NULL DEFAULT 0,
    cost_usd REAL,
    latency_ms REAL NOT NULL,
    status INTEGER NOT NULL,
    mode TEXT,
    session_id TEXT
);
CREATE INDEX IF NOT EXISTS usage_account ON usage(account_id, time);
"""


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class AccountRow:
    id: int
    key_hint: str
    balance: float
    created: float


@dataclass(frozen=True, slots=True)
class UsageRow:
    """One request. `fallbacks_tried`: models that failed before `resolved_model`
    served (or before the request failed); `cost_usd` None when a price is unknown."""

    account_id: int | None
    api: str
    tier: str | None
    requested_model: str | None
    resolved_model: str | None
    fallbacks_tried: tuple[str, ...]
    tokens_in: int
    tokens_out: int
    cost_usd: float | None
    latency_ms: float
    status: int
    mode: str | None = None
    session_id: str | None = None


class Ledger:
    """The accounts and usage tables. Safe to share between threads (one connection,
    one lock); every call is a short transaction."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA busy_timeout=5000")
            self._conn.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def create_account(self, balance: float = 0.0) -> tuple[AccountRow, str]:
        """A new account and its API key (shown once; only its hash is stored)."""
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        now = time.time()
        with self._lock:
            cur = self._conn.execute(
                "INSERT INTO accounts (key_hash, key_hint, balance, created) VALUES (?, ?, ?, ?)",
                (hash_key(key), key[:7] + "...", float(balance), now),
            )
        return AccountRow(int(cur.lastrowid or 0), key[:7] + "...", float(balance), now), key

    def lookup(self, key: str) -> AccountRow | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT id, key_hint, balance, created FROM accounts WHERE key_hash = ?",
                (hash_key(key),),
            ).fetchone()
        return AccountRow(*row) if row else None

    def accounts(self) -> list[AccountRow]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, key_hint, balance, created FROM accounts ORDER BY id"
            ).fetchall()
        return [AccountRow(*r) for r in rows]

    def record(self, row: UsageRow) -> None:
        """Append a usage row and debit the account by its cost, in one transaction."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.execute(
                    "INSERT INTO usage (time, account_id, api, tier, requested_model,"
                    " resolved_model, fallbacks_tried, tokens_in, tokens_out, cost_usd,"
                    " latency_ms, status, mode, session_id)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (time.time(), row.account_id, row.api, row.tier, row.requested_model,
                     row.resolved_model, ",".join(row.fallbacks_tried), row.tokens_in,
                     row.tokens_out, row.cost_usd, row.latency_ms, row.status, row.mode,
                     row.session_id),
                )
                if row.account_id is not None and row.cost_usd:
                    self._conn.execute(
                        "UPDATE accounts SET balance = balance - ? WHERE id = ?",
                        (row.cost_usd, row.account_id),
                    )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def usage(self, limit: int = 1000) -> list[dict[str, object]]:
        """The latest usage rows, newest last, as dicts (for tests and reports)."""
        with self._lock:
            cur = self._conn.execute(
                "SELECT * FROM (SELECT * FROM usage ORDER BY id DESC LIMIT ?) ORDER BY id", (limit,)
            )
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
