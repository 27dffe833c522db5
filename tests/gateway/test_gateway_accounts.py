"""Accounts, balances, 401/402 for paid models, the usage ledger and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

CHAT = {"messages": [{"role": "user", "content": "hello"}]}


def _bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


def test_cli_creates_and_lists_accounts(tmp_path):
    db = str(tmp_path / "a.db")
    run = [sys.executable, "-m", "router.cli", "accounts", "--db", db]
    created = subprocess.run([*run, "create", "--balance", "10"], capture_output=True, text=True, check=True)
    key = created.stdout.strip()
    assert key.startswith("at-") and len(key) > 30
    listed = subprocess.run([*run, "list", "--json"], capture_output=True, text=True, check=True)
    rows = json.loads(listed.stdout)
    assert rows[0]["balance"] == 10.0 and key not in listed.stdout  # only a hint is shown
    assert key not in (tmp_path / "a.db").read_bytes().decode("latin-1")  # stored hashed


def test_anonymous_paid_model_is_401(gateway):
    r = gateway.post("/v1/chat/completions", {**CHAT, "model": "kilo-auto/frontier"})
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "PAID_MODEL_AUTH_REQUIRED"
    m = gateway.post("/v1/messages", {**CHAT, "model": "kilo-auto/frontier", "max_tokens": 8})
    assert m.status_code == 401 and m.json()["error"]["code"] == "PAID_MODEL_AUTH_REQUIRED"
    assert m.json()["type"] == "error"


def test_unknown_key_is_401(gateway):
    r = gateway.post("/v1/chat/completions", {**CHAT, "model": "kilo-auto/free"}, headers=_bearer("at-nope"))
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"


def test_zero_balance_paid_model_is_402_but_small_tier_uses_its_free_model(gateway):
    key = gateway.create_account(0.0)
    r = gateway.post("/v1/chat/completions", {**CHAT, "model": "kilo-auto/balanced"}, headers=_bearer(key))
    assert r.status_code == 402 and r.json()["error"]["code"] == "INSUFFICIENT_BALANCE"
    small = gateway.post("/v1/chat/completions", {**CHAT, "model": "kilo-auto/small"}, headers=_bearer(key))
    assert small.status_code == 200
    assert small.json()["model"] == "google/gemma-4-26b-a4b-it:free"


def test_paid_usage_is_ledgered_and_debited(gateway, mock_upstream):
    key = gateway.create_account(5.0)
    r = gateway.post("/v1/chat/completions", {**CHAT, "model": "kilo-auto/frontier"},
                     headers={**_bearer(key), "x-kilocode-mode": "plan", "x-kilocode-taskid": "t-ledger"})
    assert r.status_code == 200
    usage = r.json()["usage"]
    row = [x for x in gateway.ledger_rows() if x["session_id"] == "t-ledger"][-1]
    assert row["tier"] == "frontier" and row["requested_model"] == "kilo-auto/frontier"
    assert row["resolved_model"] == "anthropic/claude-opus-4.7" and row["status"] == 200
    assert (row["tokens_in"], row["tokens_out"]) == (usage["prompt_tokens"], usage["completion_tokens"])
    expected = (usage["prompt_tokens"] * 5.0 + usage["completion_tokens"] * 25.0) / 1e6
    assert row["cost_usd"] == pytest.approx(expected)
    assert row["mode"] == "plan" and row["latency_ms"] > 0
    assert gateway.balance(key) == pytest.approx(5.0 - expected)


def test_streamed_usage_is_ledgered(gateway, funded_key):
    r = gateway.post("/v1/messages", {**CHAT, "model": "kilo-auto/balanced", "max_tokens": 16, "stream": True},
                     headers={**_bearer(funded_key), "x-session-id": "t-stream-ledger"})
    assert r.status_code == 200
    row = [x for x in gateway.ledger_rows() if x["session_id"] == "t-stream-ledger"][-1]
    assert row["resolved_model"] == "anthropic/claude-sonnet-4.6" and row["tokens_out"] > 0
    assert row["api"] == "messages" and row["cost_usd"] > 0
