"""The dashboard's aggregates (router/gateway/dashboard_queries.py) over a real ledger, on
SQLite and PostgreSQL: the same numbers from the live query and from the closed-hour
cache, latency buckets that agree with Python's, and admin tokens."""

from __future__ import annotations

import bisect
import random
import sqlite3
import subprocess
import sys
import time

import pytest

from router.gateway.accounts import Ledger, UsageRow
from router.gateway.admin import AdminTokens
from router.gateway.dashboard_queries import (
    FLOOR_TIME,
    LATENCY_BOUNDS,
    DashboardStore,
    latency_bucket_sql,
    percentile,
    window_seconds,
)
from router.gateway.decision_record import DecisionRecord


def _row(tier: str | None, model: str | None, status: int = 200, latency: float = 100.0, cost: float = 0.0,
         fallbacks: tuple[str, ...] = (), decision: DecisionRecord | None = None) -> UsageRow:
    return UsageRow(account_id=1, api="chat", tier=tier, requested_model=f"kilo-auto/{tier}", resolved_model=model,
                    fallbacks_tried=fallbacks, tokens_in=10, tokens_out=5, cost_usd=cost, latency_ms=latency,
                    status=status, decision=decision)


ROWS = [
    _row("frontier", "anthropic/claude-opus-4.7", latency=100, cost=0.5),
    _row("frontier", "anthropic/claude-opus-4.7", latency=200, cost=0.25),
    _row("frontier", "anthropic/claude-sonnet-4.6", latency=300, cost=0.25, fallbacks=("anthropic/claude-opus-4.7",)),
    _row("frontier", None, status=502, latency=50, fallbacks=("a", "b")),
    _row("free", "qwen/qwen3-coder:free", latency=1000),
    _row(None, None, status=401, latency=1),
    _row("efficient", "qwen/qwen3.6-plus", cost=0.01,
         decision=DecisionRecord("efficient", "debugging/bug_fixing", "hard", 0.8, 0.7, 0.012, 0.1)),
    _row("efficient", "deepseek/deepseek-v3.2", cost=0.02,
         decision=DecisionRecord("efficient", "debugging/bug_fixing", "easy", 0.9, 0.8, 0.018, 0.2)),
    _row("efficient", None, status=503,
         decision=DecisionRecord("efficient", "implementation/code_generation", "easy", 0.9, 0.8, 0.01, 0.3)),
]


def _fill(location: str) -> None:
    ledger = Ledger(location)
    try:
        for row in ROWS:
            ledger.record(row)
    finally:
        ledger.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def location(request, tmp_path):
    if request.param == "sqlite":
        return str(tmp_path / "ledger.db")
    pg = request.getfixturevalue("pg")
    return pg.create_database(f"dash_{random.randrange(10**9)}")


@pytest.mark.parametrize("later_s", [0, 3 * 3600], ids=["live", "closed-hours"])
def test_tiers_latency_and_efficient_numbers(location, later_s):
    _fill(location)
    store = DashboardStore(location)
    now = time.time() + 1 + later_s  # 3 h later: the rows lie in a closed hour, read through the cache
    try:
        for _ in range(2):  # the second time from the cache when the hour is closed
            tiers = {t["tier"]: t for t in store.tiers("24h", now)["tiers"]}
            latency = {t["tier"]: t for t in store.latency("24h", now)["tiers"]}
            eff = store.efficient("24h", now)
            traffic = {w: {s["tier"]: sum(s["requests"]) for s in store.traffic(w, now)["series"]}
                       for w in ("24h", "7d", "1h")}
    finally:
        store.close()
    frontier = tiers["frontier"]
    assert (frontier["requests"], frontier["errors"], frontier["fallbacks"]) == (4, 1, 2)
    assert (frontier["error_rate"], frontier["fallback_rate"]) == (0.25, 0.5)
    assert frontier["cost_usd"] == pytest.approx(1.0)
    assert frontier["models"] == [{"model": "anthropic/claude-opus-4.7", "requests": 2, "share": 0.6667},
                                  {"model": "anthropic/claude-sonnet-4.6", "requests": 1, "share": 0.3333}]
    assert tiers["(none)"]["requests"] == 1 and tiers["(none)"]["error_rate"] == 1.0
    assert list(tiers)[0] == "frontier"  # busiest first
    assert latency["frontier"]["requests"] == 3  # the 502 is not an answer
    assert 180 <= latency["frontier"]["p50_ms"] <= 220 and 270 <= latency["frontier"]["p95_ms"] <= 330
    assert "(none)" not in latency
    assert eff["requests"] == 3
    assert eff["route_keys"][0] == {"name": "debugging/bug_fixing", "requests": 2, "share": 0.6667}
    assert {d["name"]: d["requests"] for d in eff["difficulty"]} == {"easy": 2, "hard": 1}
    saving = eff["saving"]  # the failed request (frontier estimate 0.3) is left out
    assert saving["requests"] == 2
    assert saving["frontier_cost_usd"] == pytest.approx(0.3) and saving["real_cost_usd"] == pytest.approx(0.03)
    assert saving["estimated_cost_usd"] == pytest.approx(0.03) and saving["saved_share"] == pytest.approx(0.9)
    expected = {"frontier": 4, "efficient": 3, "free": 1, "(none)": 1}
    assert traffic == {"24h": expected, "7d": expected, "1h": expected if not later_s else {}}


def test_rows_outside_the_window_are_left_out(location):
    _fill(location)
    store = DashboardStore(location)
    try:
        later = time.time() + 2 * 3600
        assert store.tiers("1h", later)["tiers"] == []
        assert store.tiers("24h", later)["tiers"] != []
        assert store.efficient("1h", later)["saving"]["saved_share"] is None
        assert store.traffic("1h", later)["series"] == []
    finally:
        store.close()


def test_latency_buckets_in_sql_match_python():
    conn = sqlite3.connect(":memory:")
    rng = random.Random(1)
    values = [0.0, 0.5, 0.4999, 1.0, 3600_000.0, *LATENCY_BOUNDS[:5], *(rng.lognormvariate(6, 2) for _ in range(300))]
    sql = latency_bucket_sql("v")
    for v in values:
        assert conn.execute(f"SELECT {sql} FROM (SELECT ? AS v)", (v,)).fetchone()[0] == \
            bisect.bisect_right(LATENCY_BOUNDS, v), v


def test_floor_time_is_floor_on_sqlite():
    conn = sqlite3.connect(":memory:")
    for t in (0.0, 0.4, 0.6, 3599.5, 1796180676.9):
        assert conn.execute(f"SELECT {FLOOR_TIME} FROM (SELECT ? AS time)", (t,)).fetchone()[0] == int(t)


@pytest.mark.parametrize(("counts", "q", "low", "high"), [
    ({}, 0.5, None, None),
    ({bisect.bisect_right(LATENCY_BOUNDS, 100): 10}, 0.5, 95, 105),
    ({bisect.bisect_right(LATENCY_BOUNDS, 100): 90, bisect.bisect_right(LATENCY_BOUNDS, 1000): 10}, 0.95, 950, 1050),
])
def test_percentile_reads_the_histogram(counts, q, low, high):
    found = percentile(counts, q)
    if low is None:
        assert found is None
    else:
        assert low <= found <= high


def test_unknown_window_is_refused():
    with pytest.raises(ValueError, match="1h, 24h, 7d"):
        window_seconds("2h")


def test_admin_tokens_are_stored_hashed_and_revocable(tmp_path):
    db = tmp_path / "ledger.db"
    tokens = AdminTokens(db, operator_token="operator-token-0123456789")
    try:
        token = tokens.create("ops")
        assert tokens.valid(token) and tokens.valid("operator-token-0123456789")
        assert not tokens.valid(token + "x") and not tokens.valid("") and not tokens.valid(None)
        stored = sqlite3.connect(db).execute("SELECT token_hash, token_hint FROM admin_tokens").fetchall()
        assert token not in repr(stored)
        assert tokens.revoke(tokens.list()[0]["id"]) and not tokens.valid(token)
    finally:
        tokens.close()
    with pytest.raises(ValueError, match="at least 16"):
        AdminTokens(db, operator_token="short")


def test_admin_cli_creates_lists_and_revokes(tmp_path):
    def admin(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "router.cli", "admin", "--db", str(tmp_path / "l.db"), *args],
                              capture_output=True, text=True, timeout=60)

    made = admin("token", "--label", "alice")
    assert made.returncode == 0 and made.stdout.startswith("ata-") and "shown once" in made.stderr
    token = made.stdout.strip()
    listed = admin("list")
    assert "alice" in listed.stdout and token not in listed.stdout and token[:8] in listed.stdout
    tokens = AdminTokens(tmp_path / "l.db")
    try:
        assert tokens.valid(token)
        assert admin("revoke", "1").returncode == 0 and not tokens.valid(token)
    finally:
        tokens.close()
    assert admin("revoke", "1").returncode == 1
