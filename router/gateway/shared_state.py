"""`LiveState` shared by the gateway processes of one machine through one SQLite file (WAL):
what `autotier serve --workers N` uses when no Redis is configured.

Same semantics as `RedisState` (live_state.py), with a local file in place of a server:

- Rate limits: one row per key (`hits`: key, end of its fixed window, count), checked and
  counted by one UPSERT statement, so N processes enforce one limit exactly (SQLite runs
  each statement under its write lock).
- Cooldowns: a row per model (`cooldowns`: model, until; a longer cooldown wins). `cool_down`
  applies locally at once and writes the row; `availability` reads a local copy of the table
  refreshed every `refresh_s`, so route() never touches the file and the other processes skip
  the model within about `refresh_s`.
- Sessions: `sessions` (id, model, expires), expiring `session_ttl_s` after the last turn.
  An unchanged session is rewritten at most once a minute (its expiry is then up to a minute
  early), so most turns cost one indexed read.

Every statement is a single short transaction run on the event loop: WAL readers never wait,
writers wait for each other for microseconds (the busy timeout covers a checkpoint). A
statement that fails anyway (disk full, a lock held past `busy_timeout_s`) falls back to
in-process state for that call, logged once; `health()` says 'sqlite-degraded' until a call
succeeds again."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import sqlite3
import time
from pathlib import Path
from typing import Any

from router.gateway.live_state import InProcessState, LiveStateUnavailable, SharedCooldowns

log = logging.getLogger("autotier.gateway")
_FAILED = object()
SESSION_REWRITE_S = 60.0  # an unchanged session's expiry is refreshed at most this often
SWEEP_S = 60.0  # expired rows are deleted this often (by whichever process gets there)

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS hits (key TEXT PRIMARY KEY, ends REAL NOT NULL, count INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS cooldowns (model TEXT PRIMARY KEY, until REAL NOT NULL)",
    "CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, model TEXT NOT NULL, expires REAL NOT NULL)",
)
# Count one request in key's window unless the window already holds ?4 (the limit); a new
# window starts at 1. No row comes back when the limit was reached (nothing counted).
_HIT = """
INSERT INTO hits (key, ends, count) VALUES (?1, ?2, 1)
ON CONFLICT (key) DO UPDATE SET
  count = CASE WHEN hits.ends = excluded.ends THEN hits.count + 1 ELSE 1 END,
  ends = excluded.ends
WHERE hits.ends != excluded.ends OR hits.count < ?3
RETURNING count
"""
_COOL_DOWN = """
INSERT INTO cooldowns (model, until) VALUES (?1, ?2)
ON CONFLICT (model) DO UPDATE SET until = MAX(cooldowns.until, excluded.until)
"""
_REMEMBER = """
INSERT INTO sessions (id, model, expires) VALUES (?1, ?2, ?3)
ON CONFLICT (id) DO UPDATE SET model = excluded.model, expires = excluded.expires
"""


def open_live_db(path: Path, busy_timeout_s: float = 5.0) -> sqlite3.Connection:
    """A connection to the live-state file (created with its tables if missing), in WAL mode
    and autocommit. Raises LiveStateUnavailable naming the file if it cannot be opened."""
    try:
        conn = sqlite3.connect(path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # live state: no fsync per commit
            for statement in SCHEMA:
                conn.execute(statement)
        except BaseException:
            conn.close()
            raise
    except sqlite3.Error as exc:
        raise LiveStateUnavailable(f"cannot open the live-state file {path}: {exc}") from None
    return conn


class SqliteState(SharedCooldowns):
    """`LiveState` in a SQLite file shared by the processes of one machine (see the module).

    Open it in each process after fork (`start()` connects); the file and its tables are
    created by the first process that starts (`open_live_db`)."""

    def __init__(self, path: Path | str, *, refresh_s: float = 0.5, session_ttl_s: float = 86_400.0,
                 busy_timeout_s: float = 5.0, local: InProcessState | None = None):
        self.path = Path(path)
        self.refresh_s = refresh_s
        self.session_ttl_s = session_ttl_s
        self.busy_timeout_s = busy_timeout_s
        self.local = local or InProcessState()
        self._conn: sqlite3.Connection | None = None
        self._shared: dict[str, float] = {}
        self._known: dict[str, tuple[str, float]] = {}  # session -> (model, expires) as last read or written
        self._degraded = False
        self._refresher: asyncio.Task[None] | None = None
        self._next_sweep = 0.0

    # ---- lifecycle ----------------------------------------------------------------------
    async def start(self) -> None:
        if self._conn is not None:
            return
        self._conn = open_live_db(self.path, self.busy_timeout_s)
        self._refresh()
        self._refresher = asyncio.create_task(self._refresh_forever())

    async def close(self) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresher
            self._refresher = None
        if self._conn is not None:
            conn, self._conn = self._conn, None
            conn.close()

    def health(self) -> str:
        return "sqlite-degraded" if self._degraded else "sqlite"

    # ---- cooldowns --------------------------------------------------------------------
    def cool_down(self, model_id: str, seconds: float, now: float) -> None:
        self.local.cool_down(model_id, seconds, now)
        until = now + max(0.0, seconds)
        if self._run(_COOL_DOWN, (model_id, until)) is not _FAILED and until > self._shared.get(model_id, 0.0):
            self._shared[model_id] = until

    def _refresh(self) -> None:
        now = time.time()
        rows = self._run("SELECT model, until FROM cooldowns WHERE until > ?", (now,))
        if rows is not _FAILED:
            self._shared = dict(rows)  # a failed refresh keeps the last copy (absolute times)
        if now >= self._next_sweep:
            self._next_sweep = now + SWEEP_S
            for table, column in (("hits", "ends"), ("cooldowns", "until"), ("sessions", "expires")):
                self._run(f"DELETE FROM {table} WHERE {column} <= ?", (now,))  # noqa: S608 - fixed names
            if len(self._known) > 100_000:
                self._known.clear()

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_s)
            self._refresh()

    # ---- rate limits and sessions -----------------------------------------------------
    async def hit(self, key: str, limit: int, window_s: float, now: float) -> float | None:
        ends = (math.floor(now / window_s) + 1) * window_s
        if limit <= 0:
            return max(1.0, ends - now)
        rows = self._run(_HIT, (key, ends, limit))
        if rows is _FAILED:
            return self.local.hit_now(key, limit, window_s, now)
        return None if rows else max(1.0, ends - now)

    async def session_model(self, session_id: str) -> str | None:
        now = time.time()
        rows = self._run("SELECT model, expires FROM sessions WHERE id = ? AND expires > ?", (session_id, now))
        if rows is _FAILED:
            return self.local.session_now(session_id)
        if not rows:
            self._known.pop(session_id, None)
            return None
        model, expires = rows[0]
        self._known[session_id] = (model, expires)
        return str(model)

    async def remember_session(self, session_id: str, model_id: str) -> None:
        self.local.remember_now(session_id, model_id)
        expires = time.time() + self.session_ttl_s
        known = self._known.get(session_id)
        if known is not None and known[0] == model_id and expires - known[1] < SESSION_REWRITE_S:
            return  # stored with this model, and its expiry is less than a minute behind
        if self._run(_REMEMBER, (session_id, model_id, expires)) is not _FAILED:
            self._known[session_id] = (model_id, expires)

    # ---- failure handling -------------------------------------------------------------
    def _run(self, sql: str, params: tuple[Any, ...]) -> Any:
        """The rows of one statement, or `_FAILED` (logged when it starts failing)."""
        if self._conn is None:
            return _FAILED
        try:
            rows = self._conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            if not self._degraded:
                log.warning("live-state file %s failed (%s: %s): using in-process state until it works again",
                            self.path, type(exc).__name__, exc)
            self._degraded = True
            return _FAILED
        if self._degraded:
            log.warning("live-state file %s works again: shared state restored", self.path)
            self._degraded = False
        return rows
