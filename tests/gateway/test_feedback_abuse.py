"""Feedback and capture against a hostile client (the security review of issue 15): repeated
provider ids, feedback floods, refused requests filling the capture table, huge turn
numbers, secrets in notes, and request hashes outliving the retry window."""

from __future__ import annotations

import asyncio

from router.gateway.accounts import Ledger, UsageRow
from tests.gateway.conftest import start_gateway

CHAT = {"model": "kilo-auto/free", "messages": [{"role": "user", "content": "Rename tmp to total"}]}


def _auth(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


def test_a_repeated_provider_id_never_sends_feedback_to_another_reply(tmp_path):
    """Providers can repeat a body id (a counter restarting); the header id is the gateway's
    own, so feedback by it lands on its reply. By the body id, the latest reply is meant."""
    from router.gateway.feedback import give, parse_feedback

    ledger = Ledger(tmp_path / "ids.db")
    try:
        account, _ = ledger.create_account(1.0)
        rows = [UsageRow(account.id, "chat", "free", "kilo-auto/free", model, (), 1, 1, 0.0, 1.0, 200,
                         response_id=f"atr-{n}", provider_response_id="chatcmpl-mock1")
                for n, model in ((1, "a/one"), (2, "b/two"))]
        ids = [ledger.record(row) for row in rows]
        by_header = give(ledger, account.id, parse_feedback({"response_id": "atr-1", "rating": "down"}))
        by_body = give(ledger, account.id, parse_feedback({"response_id": "chatcmpl-mock1", "rating": "up"}))
        assert (by_header["usage_id"], by_header["model"]) == (ids[0], "a/one")
        assert (by_body["usage_id"], by_body["model"]) == (ids[1], "b/two")
    finally:
        ledger.close()


def test_bad_turns_and_secret_notes(gateway):
    key = gateway.create_account(5.0)
    reply = gateway.post("/v1/chat/completions", {**CHAT}, headers={**_auth(key), "x-session-id": "abuse-turn"})
    r = gateway.post("/v1/feedback", {"session_id": "abuse-turn", "turn": 10**30, "rating": "up"}, headers=_auth(key))
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_type"
    note = "broke my key sk-or-v1-0123456789abcdef0123456789abcdef mail me at dev@example.com"
    r = gateway.post("/v1/feedback", {"response_id": reply.headers["x-autotier-response-id"], "rating": "down",
                                      "note": note}, headers=_auth(key))
    assert r.status_code == 200
    ledger = Ledger(gateway.db)
    try:
        stored = [f["note"] for f in ledger.feedback_rows() if f["usage_id"] == r.json()["usage_id"]]
    finally:
        ledger.close()
    assert stored and "sk-or-v1" not in stored[0] and "dev@example.com" not in stored[0]


def test_feedback_is_limited_per_key_and_refused_requests_are_not_captured(mock_upstream, tmp_path):
    with start_gateway(mock_upstream, tmp_path, "--feedback-per-minute", "3", "--capture-rate", "1",
                       "--anonymous-per-hour", "1") as gw:
        key, broke = gw.create_account(5.0), gw.create_account(0.0)
        rid = gw.post("/v1/chat/completions", CHAT, headers=_auth(key)).headers["x-autotier-response-id"]
        codes = [gw.post("/v1/feedback", {"response_id": rid, "rating": r}, headers=_auth(key)).status_code
                 for r in ("up", "down", "up", "down")]
        assert codes == [200, 200, 200, 429]
        refused = [gw.post("/v1/chat/completions", {**CHAT, "model": "kilo-auto/frontier"},
                           headers=_auth(broke)).status_code,  # no balance: 402
                   *(gw.post("/v1/chat/completions", CHAT).status_code for _ in range(2))]  # anonymous: 200, 429
        assert refused == [402, 200, 429]
        ledger = Ledger(gw.db)
        try:
            statuses = sorted(ledger.run(lambda tx: [r["status"] for r in tx.dicts(
                "SELECT u.status FROM captures c JOIN usage u ON u.id = c.usage_id")]))
        finally:
            ledger.close()
        assert statuses == [200, 200]  # the two served requests only


def test_request_hashes_are_cleared_once_past_the_retry_window(tmp_path):
    from router.gateway.app import sweep_once
    from tests.support.offline_gateway import offline_gateway

    gateway = offline_gateway(tmp_path / "g.db", retry_window_s=120.0)
    try:
        row = UsageRow(None, "chat", None, "m", "m", (), 1, 1, 0.0, 1.0, 200, request_hash="h" * 64)
        old, new = gateway.ledger.record(row), gateway.ledger.record(row)
        gateway.ledger.run(lambda tx: tx.execute("UPDATE usage SET time = time - 121 WHERE id = ?", (old,)))
        asyncio.run(sweep_once(gateway))
        hashes = {r["id"]: r["request_hash"] for r in gateway.ledger.usage()}
        assert hashes == {old: None, new: "h" * 64}  # the newer one is still inside the window
    finally:
        gateway.ledger.close()
