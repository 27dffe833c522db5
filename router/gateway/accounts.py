"""Accounts, balances and the usage ledger, in SQLite (WAL mode; the embedded default) or
PostgreSQL (`postgresql://...`, for several gateway processes). One code path: the SQL is
written once with `?` placeholders and a `Dialect` (router/gateway/database.py) carries the
few differences. API keys are stored only as SHA-256 hashes; a key is shown once, when the
account is created.

Money moves in two steps (docs/security.md): `reserve` takes an upper bound of a request's
cost off the balance before the provider is called, atomically and only if the balance
covers it (a hold); `record` settles the hold to the real cost. With every paid call held
first, concurrent requests on any number of processes cannot take a balance below zero."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from router.gateway.database import (
    POSTGRES,
    SQLITE,
    LedgerUnavailable,
    Transaction,
    is_database_url,
    open_database,
)
from router.gateway.decision_record import DecisionRecord

log = logging.getLogger("autotier.gateway")
T = TypeVar("T")

KEY_PREFIX = "at-"

# {id}: the dialect's auto-increment primary key. DOUBLE PRECISION has REAL affinity in
# SQLite and is 8 bytes in PostgreSQL (whose REAL is 4).
SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    id {id},
    key_hash TEXT NOT NULL UNIQUE,
    key_hint TEXT NOT NULL,
    balance DOUBLE PRECISION NOT NULL DEFAULT 0,
    created DOUBLE PRECISION NOT NULL,
    allowed_fields TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS holds (
    id {id},
    account_id BIGINT NOT NULL,
    amount DOUBLE PRECISION NOT NULL,
    created DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS usage (
    id {id},
    time DOUBLE PRECISION NOT NULL,
    account_id BIGINT,
    api TEXT NOT NULL,
    tier TEXT,
    requested_model TEXT,
    resolved_model TEXT,
    fallbacks_tried TEXT NOT NULL DEFAULT '',
    tokens_in INTEGER NOT NULL DEFAULT 0,
    tokens_out INTEGER NOT NULL DEFAULT 0,
    cost_usd DOUBLE PRECISION,
    latency_ms DOUBLE PRECISION NOT NULL,
    status INTEGER NOT NULL,
    mode TEXT,
    session_id TEXT,
    provider_fields TEXT,
    decided_by TEXT,
    route_key TEXT,
    difficulty TEXT,
    confidence DOUBLE PRECISION,
    expected_success DOUBLE PRECISION,
    estimated_cost_usd DOUBLE PRECISION,
    frontier_cost_usd DOUBLE PRECISION,
    response_id TEXT,
    request_hash TEXT,
    provider_response_id TEXT
);
CREATE TABLE IF NOT EXISTS feedback (
    id {id},
    time DOUBLE PRECISION NOT NULL,
    usage_id BIGINT NOT NULL,
    account_id BIGINT,
    model TEXT NOT NULL,
    signal TEXT NOT NULL,
    value TEXT NOT NULL,
    origin TEXT NOT NULL,
    success DOUBLE PRECISION NOT NULL,
    note TEXT
);
CREATE TABLE IF NOT EXISTS captures (
    id {id},
    time DOUBLE PRECISION NOT NULL,
    expires DOUBLE PRECISION NOT NULL,
    usage_id BIGINT,
    account_id BIGINT,
    api TEXT NOT NULL,
    mode TEXT,
    tier TEXT,
    model TEXT,
    route_key TEXT,
    difficulty TEXT,
    text TEXT NOT NULL,
    context TEXT,
    n_tool_results INTEGER,
    prompt_tokens INTEGER
);
CREATE TABLE IF NOT EXISTS tier_changes (
    id {id},
    time DOUBLE PRECISION NOT NULL,
    version TEXT NOT NULL,
    previous_version TEXT,
    source TEXT NOT NULL,
    changes TEXT NOT NULL,
    mapping TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS usage_account ON usage(account_id, time);
CREATE INDEX IF NOT EXISTS usage_time ON usage(time);
CREATE UNIQUE INDEX IF NOT EXISTS feedback_signal ON feedback(usage_id, model, signal);
CREATE INDEX IF NOT EXISTS captures_expires ON captures(expires)
"""
# Indexes on columns that MIGRATIONS may add: created after them.
LATE_INDEXES = (
    "CREATE INDEX IF NOT EXISTS usage_response ON usage(response_id)",
    "CREATE INDEX IF NOT EXISTS usage_provider_response ON usage(provider_response_id)",
    "CREATE INDEX IF NOT EXISTS usage_request_hash ON usage(request_hash)",
    "CREATE INDEX IF NOT EXISTS usage_session ON usage(session_id, id)",
)

# The decision record (router/gateway/decision_record.py) beside each usage row.
DECISION_COLUMNS = (
    ("decided_by", "TEXT"), ("route_key", "TEXT"), ("difficulty", "TEXT"), ("confidence", "DOUBLE PRECISION"),
    ("expected_success", "DOUBLE PRECISION"), ("estimated_cost_usd", "DOUBLE PRECISION"),
    ("frontier_cost_usd", "DOUBLE PRECISION"),
)

# Columns added after a table first shipped: (table, column, SQL type and default). An
# existing database gets them by ALTER TABLE when it is opened.
MIGRATIONS = (
    ("accounts", "allowed_fields", "TEXT NOT NULL DEFAULT ''"),
    ("usage", "provider_fields", "TEXT"),
    ("accounts", "policy", "TEXT NOT NULL DEFAULT ''"),  # policy names, comma-separated (router.policy)
    *(("usage", name, kind) for name, kind in DECISION_COLUMNS),
    ("usage", "response_id", "TEXT"),  # the reply's id (x-autotier-response-id), for feedback
    ("usage", "request_hash", "TEXT"),  # caller + model + latest user text: retries (router.gateway.feedback)
    ("usage", "provider_response_id", "TEXT"),  # the provider's id of the reply, also accepted by feedback
)

# Longest text the ledger stores for a client-chosen string (model id, mode, session id):
# a client must not be able to write megabytes per row.
MAX_STORED_TEXT = 200


# Serialises CREATE TABLE IF NOT EXISTS when several gateways start at once (PostgreSQL
# can fail such concurrent creations with a unique violation).
_SCHEMA_LOCK_ID = 0x6175746F74696572  # "autotier"
_CHANGELOG_LOCK_ID = _SCHEMA_LOCK_ID + 1  # one tier-change check at a time


def _statements(sql: str) -> list[str]:
    return [part.strip() for part in sql.split(";") if part.strip()]


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class AccountRow:
    """`allowed_fields`: provider fields beyond the default allow-list this key may send
    (e.g. OpenRouter's `provider`), set by the operator."""

    id: int
    key_hint: str
    balance: float
    created: float
    allowed_fields: frozenset[str] = frozenset()
    policy: tuple[str, ...] = ()  # names in data/policies.yaml that apply to this key, in order


def _account(row: tuple[Any, ...]) -> AccountRow:
    fields = frozenset(f for f in (row[4] or "").split(",") if f)
    policy = tuple(p for p in (row[5] or "").split(",") if p)
    return AccountRow(int(row[0]), row[1], float(row[2]), float(row[3]), fields, policy)


def stored_text(value: str | None, limit: int = MAX_STORED_TEXT) -> str | None:
    """`value` cut to `limit` characters (marked with '...'), with anything that cannot be
    encoded (a lone surrogate) replaced, so that every row can be written."""
    if value is None:
        return None
    if len(value) > limit:
        value = value[: limit - 3] + "..."
    return value.encode("utf-8", "replace").decode("utf-8")


@dataclass(frozen=True, slots=True)
class Hold:
    """Money set aside for one request: `amount` USD taken off the balance until settled.
    `max_output_tokens` is the output cap the hold covers (None: the client's own)."""

    id: int
    account_id: int
    amount: float
    max_output_tokens: int | None = None


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
    provider_fields: tuple[str, ...] | None = None  # top-level fields sent to the provider
    decision: DecisionRecord | None = None  # what decided it (None: refused before routing)
    response_id: str | None = None  # the gateway's id of the reply (x-autotier-response-id)
    provider_response_id: str | None = None  # the provider's id in the reply body (may repeat)
    request_hash: str | None = None  # router.gateway.feedback.request_hash


ACCOUNT_COLUMNS = "id, key_hint, balance, created, allowed_fields, policy"


def _decision_values(record: DecisionRecord | None) -> tuple[Any, ...]:
    if record is None:
        return (None,) * len(DECISION_COLUMNS)
    return tuple(getattr(record, name) for name, _ in DECISION_COLUMNS)


class Ledger:
    """The accounts and usage tables in SQLite (a file path) or PostgreSQL (a
    `postgresql://` URL). Safe to share between threads (one connection, one lock);
    every call is a short transaction, committed before it returns.

    Raises LedgerUnavailable when the database cannot be opened. A PostgreSQL connection
    that broke (server restart) is reopened by the next call; the call that met the
    break fails."""

    def __init__(self, location: Path | str):
        self.location = str(location)
        self.dialect = POSTGRES if is_database_url(location) else SQLITE
        self.path = Path(location) if self.dialect is SQLITE else None
        self._lock = threading.Lock()
        self._conn: Any = self._connect()
        with self._lock:
            self._create_schema()

    def _connect(self) -> Any:
        return open_database(self.location)

    def _create_schema(self) -> None:
        with self._transaction():
            if self.dialect is POSTGRES:
                self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK_ID,))
            for statement in _statements(SCHEMA.format(id=self.dialect.id_column)):
                self._conn.execute(statement)
            for table, column, kind in MIGRATIONS:
                columns = {d[0] for d in self._conn.execute(f"SELECT * FROM {table} LIMIT 0").description}
                if column not in columns:
                    self._conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
            for statement in LATE_INDEXES:
                self._conn.execute(statement)

    def _execute(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        return self._conn.execute(self.dialect.sql(sql), params)

    def _reopen_if_broken(self) -> None:
        if self.dialect is POSTGRES and (self._conn.closed or self._conn.broken):
            self._conn = self._connect()

    @contextlib.contextmanager
    def _transaction(self, write: bool = True) -> Iterator[None]:
        # A read-only transaction starts deferred: on SQLite it takes no write lock, so an
        # offline reader (a report, retraining) never holds up the gateway's writes.
        self._conn.execute(self.dialect.begin if write else "BEGIN")
        try:
            yield
        except BaseException:
            with contextlib.suppress(Exception):  # a broken connection cannot roll back; the server does
                self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def run(self, fn: Callable[[Transaction], T], write: bool = True) -> T:
        """`fn(transaction)` in one transaction, committed when this returns (rolled back
        if `fn` raises); for modules that keep their own tables here (router.gateway.feedback).
        `write=False` for reads only: no write lock is taken."""
        with self._lock:
            self._reopen_if_broken()
            with self._transaction(write):
                return fn(Transaction(self._conn, self.dialect))

    @classmethod
    def existing(cls, location: str) -> Ledger:
        """The ledger at `location` for offline tools, which must not create one by mistake
        (a mistyped path): LedgerUnavailable when there is no SQLite file there."""
        if not is_database_url(location) and not Path(location).is_file():
            raise LedgerUnavailable(f"no ledger at {location} (a gateway's SQLite file or a postgresql:// URL)")
        return cls(location)

    def create_account(self, balance: float = 0.0, allowed_fields: frozenset[str] = frozenset()
                       ) -> tuple[AccountRow, str]:
        """A new account and its API key (shown once; only its hash is stored)."""
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        now = time.time()
        fields = ",".join(sorted(allowed_fields))
        insert = "INSERT INTO accounts (key_hash, key_hint, balance, created, allowed_fields) VALUES (?, ?, ?, ?, ?)"
        if self.dialect.returning_id:
            insert += " RETURNING id"
        with self._lock:
            self._reopen_if_broken()
            cur = self._execute(insert, (hash_key(key), key[:7] + "...", float(balance), now, fields))
            account_id = cur.fetchone()[0] if self.dialect.returning_id else cur.lastrowid
        return AccountRow(int(account_id or 0), key[:7] + "...", float(balance), now, frozenset(allowed_fields)), key

    def set_allowed_fields(self, account_id: int, fields: frozenset[str]) -> bool:
        """Replace the extra provider fields an account may send; False if no such account."""
        with self._lock:
            self._reopen_if_broken()
            cur = self._execute("UPDATE accounts SET allowed_fields = ? WHERE id = ?",
                                (",".join(sorted(fields)), account_id))
            return bool(cur.rowcount)

    def set_policy(self, account_id: int, names: tuple[str, ...]) -> bool:
        """Replace the policy names of an account (empty: none); False if no such account."""
        with self._lock:
            self._reopen_if_broken()
            cur = self._execute("UPDATE accounts SET policy = ? WHERE id = ?", (",".join(names), account_id))
            return bool(cur.rowcount)

    def lookup(self, key: str) -> AccountRow | None:
        with self._lock:
            self._reopen_if_broken()
            row = self._execute(
                f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE key_hash = ?", (hash_key(key),)
            ).fetchone()
        return _account(row) if row else None

    def accounts(self) -> list[AccountRow]:
        with self._lock:
            self._reopen_if_broken()
            rows = self._execute(f"SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY id").fetchall()
        return [_account(r) for r in rows]

    def reserve(self, account_id: int, plan: Callable[[float], tuple[float, int | None] | None]) -> Hold | None:
        """Hold money for one request. `plan(balance)` returns (amount, output cap) to hold
        for an account with that balance, or None when the balance cannot cover the
        request; the amount is taken off the balance only if the balance still covers it,
        atomically (across processes too). Returns the hold, or None (nothing changed)."""
        with self._lock:
            self._reopen_if_broken()
            if self.dialect is POSTGRES:  # the common case in one round trip: the full amount is covered
                wanted = plan(float("inf"))
                if wanted is not None:
                    found = self._execute(
                        "WITH taken AS (UPDATE accounts SET balance = balance - ? WHERE id = ? AND balance >= ?"
                        " RETURNING id) INSERT INTO holds (account_id, amount, created)"
                        " SELECT id, ?, ? FROM taken RETURNING id",
                        (wanted[0], account_id, wanted[0], wanted[0], time.time())).fetchone()
                    if found:
                        return Hold(int(found[0]), account_id, wanted[0], wanted[1])
            lock = " FOR UPDATE" if self.dialect is POSTGRES else ""
            with self._transaction():
                found = self._execute(f"SELECT balance FROM accounts WHERE id = ?{lock}", (account_id,)).fetchone()
                wanted = plan(float(found[0])) if found else None
                if wanted is None:
                    return None
                amount, cap = wanted
                changed = self._execute("UPDATE accounts SET balance = balance - ? WHERE id = ? AND balance >= ?",
                                        (amount, account_id, amount)).rowcount
                if not changed:
                    return None
                insert = "INSERT INTO holds (account_id, amount, created) VALUES (?, ?, ?)"
                if self.dialect.returning_id:
                    insert += " RETURNING id"
                cur = self._execute(insert, (account_id, amount, time.time()))
                hold_id = cur.fetchone()[0] if self.dialect.returning_id else cur.lastrowid
        return Hold(int(hold_id or 0), account_id, amount, cap)

    def renew_holds(self, hold_ids: Collection[int]) -> int:
        """Mark holds as still in use (their requests are running, e.g. a long stream), so the
        stale-hold sweep of any process leaves them; returns how many were still there."""
        if not hold_ids:
            return 0
        ids = sorted(hold_ids)
        marks = ", ".join("?" for _ in ids)
        with self._lock:
            self._reopen_if_broken()
            return int(self._execute(f"UPDATE holds SET created = ? WHERE id IN ({marks})",
                                     (time.time(), *ids)).rowcount)

    def forget_request_hashes(self, older_than: float) -> int:
        """Clear the request hashes of usage rows written before `older_than`: a hash only
        serves to spot a retry within the retry window, and a short prompt could be guessed
        back from it. Returns how many were cleared. The few rows still holding a hash are
        found through its index (`+time` keeps SQLite off the time index, which would walk
        every older row)."""
        with self._lock:
            self._reopen_if_broken()
            return int(self._execute("UPDATE usage SET request_hash = NULL WHERE request_hash > '' AND +time < ?",
                                     (older_than,)).rowcount)

    def release_stale_holds(self, older_than_s: float) -> int:
        """Give back holds older than `older_than_s` seconds (left by a process that died
        mid-request); returns how many. A request still running past that age is then
        settled without its hold (docs/security.md, "Bounds")."""
        cutoff = time.time() - older_than_s
        with self._lock:
            self._reopen_if_broken()
            with self._transaction():
                stale = self._execute("SELECT id, account_id, amount FROM holds WHERE created < ?",
                                      (cutoff,)).fetchall()
                for hold_id, account_id, amount in stale:
                    self._execute("DELETE FROM holds WHERE id = ?", (hold_id,))
                    self._execute("UPDATE accounts SET balance = balance + ? WHERE id = ?", (amount, account_id))
        return len(stale)

    def record(self, row: UsageRow, hold: Hold | None = None,
               then: Callable[[Transaction, int], object] | None = None) -> int:
        """Append a usage row and settle: give back `hold` (if it is still there) and debit
        the account by the row's cost, in one transaction committed when this returns.
        `then(transaction, usage id)` adds what belongs with the row (feedback, capture) in
        the same transaction; its failure is logged and undone, never the row's. Client-chosen
        strings are stored cut to MAX_STORED_TEXT characters. Returns the usage row's id."""
        fields = ",".join(row.provider_fields) if row.provider_fields is not None else None

        def write(tx: Transaction) -> int:
            usage_id = tx.insert(
                "INSERT INTO usage (time, account_id, api, tier, requested_model,"
                " resolved_model, fallbacks_tried, tokens_in, tokens_out, cost_usd,"
                " latency_ms, status, mode, session_id, provider_fields, decided_by, route_key,"
                " difficulty, confidence, expected_success, estimated_cost_usd, frontier_cost_usd,"
                " response_id, request_hash, provider_response_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (time.time(), row.account_id, row.api, row.tier, stored_text(row.requested_model),
                 row.resolved_model, ",".join(row.fallbacks_tried), row.tokens_in,
                 row.tokens_out, row.cost_usd, row.latency_ms, row.status, stored_text(row.mode),
                 stored_text(row.session_id), stored_text(fields, 2000), *_decision_values(row.decision),
                 stored_text(row.response_id), row.request_hash, stored_text(row.provider_response_id)),
            )
            refund = 0.0
            if hold is not None:
                held = tx.execute("DELETE FROM holds WHERE id = ? RETURNING amount", (hold.id,)).fetchone()
                refund = float(held[0]) if held is not None else 0.0
            change = refund - (row.cost_usd or 0.0)
            if row.account_id is not None and change:
                tx.execute("UPDATE accounts SET balance = balance + ? WHERE id = ?", (change, row.account_id))
            if then is not None:
                tx.attempt("the usage row's feedback and capture", lambda: then(tx, usage_id))
            return usage_id

        return self.run(write)

    def usage(self, limit: int = 1000) -> list[dict[str, object]]:
        """The latest usage rows, newest last, as dicts (for tests and reports)."""
        with self._lock:
            self._reopen_if_broken()
            cur = self._execute(
                "SELECT * FROM (SELECT * FROM usage ORDER BY id DESC LIMIT ?) AS latest ORDER BY id", (limit,)
            )
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def feedback_rows(self) -> list[dict[str, Any]]:
        """Every feedback signal joined with its usage row, oldest first: usage_id, time,
        account_id, model, signal, value, origin, success, note, route_key, difficulty, tier,
        resolved_model, mode (docs/gateway.md, "Feedback")."""
        return self.run(lambda tx: tx.dicts(
            "SELECT f.usage_id, f.time, f.account_id, f.model, f.signal, f.value, f.origin, f.success,"
            " f.note, u.route_key, u.difficulty, u.tier, u.resolved_model, u.mode"
            " FROM feedback f JOIN usage u ON u.id = f.usage_id ORDER BY f.id"), write=False)

    def captures(self, since: float | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """Captured requests (docs/gateway.md, "Request capture") not yet expired, oldest
        first, from time `since` (Unix seconds) on, at most `limit` rows."""
        sql = "SELECT * FROM captures WHERE expires > ? AND time >= ? ORDER BY id"
        params: tuple[Any, ...] = (time.time(), since if since is not None else 0.0)
        if limit is not None:
            sql, params = sql + " LIMIT ?", (*params, int(limit))
        return self.run(lambda tx: tx.dicts(sql, params), write=False)

    def append_tier_change(self, version: str, mapping: str, source: str,
                           describe: Callable[[str | None], list[str]]) -> int | None:
        """Record that the tier mapping is now `version` (snapshot `mapping`, JSON), unless
        the latest entry already is: the check and the insert are one transaction, so
        processes starting or reloading at once record a change once. `describe(previous
        snapshot or None)` gives the change lines. Returns the new entry's id, or None."""
        insert = ("INSERT INTO tier_changes (time, version, previous_version, source, changes, mapping)"
                  " VALUES (?, ?, ?, ?, ?, ?)" + (" RETURNING id" if self.dialect.returning_id else ""))
        with self._lock:
            self._reopen_if_broken()
            with self._transaction():
                if self.dialect is POSTGRES:
                    self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (_CHANGELOG_LOCK_ID,))
                latest = self._execute("SELECT version, mapping FROM tier_changes ORDER BY id DESC LIMIT 1").fetchone()
                if latest is not None and latest[0] == version:
                    return None
                changes = json.dumps(describe(latest[1] if latest else None))
                cur = self._execute(insert, (time.time(), version, latest[0] if latest else None, source,
                                             changes, mapping))
                return int(cur.fetchone()[0] if self.dialect.returning_id else cur.lastrowid)

    def tier_changes(self, limit: int = 50) -> list[dict[str, Any]]:
        """The latest tier-mapping changes, newest first: id, time, version,
        previous_version, source and changes (a list of lines)."""
        with self._lock:
            self._reopen_if_broken()
            rows = self._execute("SELECT id, time, version, previous_version, source, changes FROM tier_changes"
                                 " ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        names = ("id", "time", "version", "previous_version", "source", "changes")
        return [{**dict(zip(names, r, strict=True)), "changes": json.loads(r[5])} for r in rows]
