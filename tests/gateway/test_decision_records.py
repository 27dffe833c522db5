"""Each ledger row records what decided it (issue 14, decision records), on SQLite and
PostgreSQL through one code path, with existing databases migrated in place."""

from __future__ import annotations

import sqlite3

import httpx

from router.gateway.accounts import DECISION_COLUMNS, Ledger, UsageRow
from router.gateway.decision_record import DecisionRecord

CHAT = {"messages": [{"role": "user", "content": "Add a one-line docstring to this function: def add(a, b): return a + b"}]}


def _row(gateway, session: str) -> dict:
    return next(r for r in reversed(gateway.ledger_rows()) if r["session_id"] == session)


def test_rule_and_efficient_rows_say_what_decided_them(gateway, funded_key):
    auth = {"authorization": f"Bearer {funded_key}"}
    r = gateway.post("/v1/chat/completions", {**CHAT, "model": "kilo-auto/frontier"},
                     headers={**auth, "x-kilocode-mode": "plan", "x-session-id": "dr-rule"})
    assert r.status_code == 200
    row = _row(gateway, "dr-rule")
    assert row["decided_by"] == "mode" and row["route_key"] is None and row["frontier_cost_usd"] is None
    r = gateway.post("/v1/chat/completions", {**CHAT, "model": "kilo-auto/free"}, headers={"x-session-id": "dr-free"})
    assert _row(gateway, "dr-free")["decided_by"] == "affinity"
    r = gateway.post("/v1/chat/completions", {**CHAT, "model": "kilo-auto/efficient"},
                     headers={**auth, "x-kilocode-mode": "code", "x-session-id": "dr-eff"})
    assert r.status_code == 200
    row = _row(gateway, "dr-eff")
    assert row["decided_by"] == "efficient" and row["tier"] == "efficient"
    assert "/" in row["route_key"] and row["difficulty"] in ("low", "medium", "high")
    assert 0 < row["confidence"] <= 1 and 0 < row["expected_success"] <= 1
    assert row["estimated_cost_usd"] >= 0 and row["frontier_cost_usd"] > 0


def test_explain_calls_are_counted_apart(gateway):
    def counted(name: str) -> float:
        text = httpx.get(gateway.url + "/metrics").text
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith(name + "_total{"))

    served, explained = counted("autotier_routing_decisions"), counted("autotier_explain_decisions")
    assert gateway.post("/v1/route", {**CHAT, "model": "kilo-auto/free"}).status_code == 200
    assert counted("autotier_routing_decisions") == served
    assert counted("autotier_explain_decisions") == explained + 1


def test_an_existing_database_gains_the_new_columns(tmp_path):
    db = tmp_path / "old.db"
    conn = sqlite3.connect(db)
    conn.executescript("""
        CREATE TABLE accounts (id INTEGER PRIMARY KEY AUTOINCREMENT, key_hash TEXT NOT NULL UNIQUE,
            key_hint TEXT NOT NULL, balance DOUBLE PRECISION NOT NULL DEFAULT 0, created DOUBLE PRECISION NOT NULL);
        CREATE TABLE usage (id INTEGER PRIMARY KEY AUTOINCREMENT, time DOUBLE PRECISION NOT NULL, account_id BIGINT,
            api TEXT NOT NULL, tier TEXT, requested_model TEXT, resolved_model TEXT,
            fallbacks_tried TEXT NOT NULL DEFAULT '', tokens_in INTEGER NOT NULL DEFAULT 0,
            tokens_out INTEGER NOT NULL DEFAULT 0, cost_usd DOUBLE PRECISION, latency_ms DOUBLE PRECISION NOT NULL,
            status INTEGER NOT NULL, mode TEXT, session_id TEXT);
        INSERT INTO accounts (key_hash, key_hint, balance, created) VALUES ('h', 'at-x...', 5, 0);
        INSERT INTO usage (time, api, latency_ms, status) VALUES (0, 'chat', 1, 200);
    """)
    conn.close()
    ledger = Ledger(db)
    try:
        ledger.record(UsageRow(1, "chat", "efficient", "kilo-auto/efficient", "m", (), 1, 2, 0.0, 1.0, 200,
                               decision=DecisionRecord("efficient", "refactoring/code_cleanup", "low", 0.9, 0.97,
                                                       0.001, 0.02)))
        rows = ledger.usage()
        assert ledger.accounts()[0].balance == 5
    finally:
        ledger.close()
    assert rows[0]["decided_by"] is None and rows[0]["frontier_cost_usd"] is None  # old rows: unknown
    assert {name: rows[1][name] for name, _ in DECISION_COLUMNS} == {
        "decided_by": "efficient", "route_key": "refactoring/code_cleanup", "difficulty": "low", "confidence": 0.9,
        "expected_success": 0.97, "estimated_cost_usd": 0.001, "frontier_cost_usd": 0.02}
