"""Outcome feedback (issue 15): every reply names itself (x-autotier-response-id); a key
rates its own replies by id or session turn, idempotently; bad bodies store nothing; the
gateway records retries, switched models, upstream errors and empty replies by itself."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from router.gateway.accounts import Ledger, UsageRow
from router.gateway.capture import Snapshot, delete_expired, store
from router.gateway.feedback import Observed, give, parse_feedback, record_implicit

CHAT = {"messages": [{"role": "user", "content": "Rename the variable x to total in this loop"}]}
MESSAGES = {"max_tokens": 64, "messages": [{"role": "user", "content": "Explain this regex: ^a+$"}]}
RESPONSES = {"input": "Write a haiku about unit tests"}


def _auth(key: str, session: str | None = None) -> dict[str, str]:
    headers = {"authorization": f"Bearer {key}"}
    if session:
        headers["x-session-id"] = session
    return headers


def _rows(gateway, **where: object) -> list[dict]:
    return [r for r in gateway.ledger_rows() if all(r[k] == v for k, v in where.items())]


def _feedback(gateway) -> list[dict]:
    ledger = Ledger(gateway.db)
    try:
        return ledger.feedback_rows()
    finally:
        ledger.close()


def _signals(gateway, usage_id: int) -> dict[tuple[str, str], dict]:
    return {(f["signal"], f["model"]): f for f in _feedback(gateway) if f["usage_id"] == usage_id}


def _chain(gateway, tier: str) -> list[str]:
    decision = gateway.post("/v1/route", {**CHAT, "model": tier}).json()
    return [decision["model"], *decision["fallbacks"]]


@pytest.fixture
def key(gateway) -> str:
    return gateway.create_account(10.0)


@pytest.mark.parametrize(("path", "body"), [("/v1/chat/completions", CHAT), ("/v1/messages", MESSAGES),
                                            ("/v1/responses", RESPONSES)])
def test_every_reply_carries_its_ledger_rows_response_id(gateway, key, path, body):
    session = f"rid-{uuid.uuid4().hex[:8]}"
    r = gateway.post(path, {**body, "model": "kilo-auto/free"}, headers=_auth(key, session))
    assert r.status_code == 200, r.text
    rid = r.headers["x-autotier-response-id"]
    assert rid.startswith("atr-") and len(rid) == 36  # the gateway's own id: unique
    row = _rows(gateway, session_id=session)[0]
    assert (row["response_id"], row["provider_response_id"]) == (rid, r.json()["id"])  # the body's id kept too
    assert len(row["request_hash"]) == 64


@pytest.mark.parametrize(("path", "body"), [("/v1/chat/completions", CHAT), ("/v1/messages", MESSAGES),
                                            ("/v1/responses", RESPONSES)])
def test_streams_carry_the_streams_id(gateway, key, path, body):
    session = f"rid-s-{uuid.uuid4().hex[:8]}"
    with httpx.stream("POST", gateway.url + path, timeout=30,
                      json={**body, "model": "kilo-auto/free", "stream": True}, headers=_auth(key, session)) as r:
        assert r.status_code == 200
        rid = r.headers["x-autotier-response-id"]
        lines = [line for line in r.iter_lines() if line.startswith("data: {")]
    first = json.loads(lines[0][6:])
    row = _rows(gateway, session_id=session)[0]
    assert row["response_id"] == rid and rid.startswith("atr-")
    assert row["provider_response_id"] == (first.get("message") or first.get("response") or first)["id"]


def test_errors_carry_a_gateway_made_response_id(gateway, key):
    session = f"rid-e-{uuid.uuid4().hex[:8]}"
    bad = gateway.post("/v1/chat/completions", {"model": "kilo-auto/free", "messages": []},
                       headers=_auth(key, session))
    assert bad.status_code == 400
    rid = bad.headers["x-autotier-response-id"]
    assert rid.startswith("atr-") and len(rid) == 36
    assert _rows(gateway, session_id=session) == []  # refused before reading the session: a row without it
    assert _rows(gateway, response_id=rid)[0]["status"] == 400


def test_feedback_by_response_id_and_by_session_turn(gateway, key):
    session = f"fb-{uuid.uuid4().hex[:8]}"
    replies = [gateway.post("/v1/chat/completions", {**CHAT, "model": "kilo-auto/free",
                                                     "messages": [{"role": "user", "content": f"step {i}"}]},
                            headers=_auth(key, session)) for i in range(3)]
    ids = [r.headers["x-autotier-response-id"] for r in replies]
    rows = _rows(gateway, session_id=session)
    r = gateway.post("/v1/feedback", {"response_id": ids[1], "rating": "up", "note": "nice"}, headers=_auth(key))
    assert r.status_code == 200, r.text
    assert r.json() == {"response_id": ids[1], "usage_id": rows[1]["id"], "model": rows[1]["resolved_model"],
                        "feedback": [{"signal": "rating", "value": "up", "success": 1.0, "changed": True}]}
    r = gateway.post("/api/gateway/feedback", {"session_id": session, "turn": 1, "outcome": "reverted",
                                               "solved": False}, headers=_auth(key))
    assert r.status_code == 200 and r.json()["usage_id"] == rows[0]["id"]
    r = gateway.post("/v1/feedback", {"session_id": session, "turn": -1, "solved": True}, headers=_auth(key))
    assert r.json()["response_id"] == ids[2]
    assert gateway.post("/v1/feedback", {"session_id": session, "turn": 4, "solved": True},
                        headers=_auth(key)).status_code == 404
    stored = {(f["usage_id"], f["signal"]): f for f in _feedback(gateway) if f["origin"] == "explicit"}
    assert stored[(rows[1]["id"], "rating")]["note"] == "nice" and stored[(rows[1]["id"], "rating")]["success"] == 1
    assert stored[(rows[0]["id"], "outcome")]["value"] == "reverted" and stored[(rows[0]["id"], "solved")]["success"] == 0
    assert stored[(rows[2]["id"], "solved")]["value"] == "true"
    assert stored[(rows[1]["id"], "rating")]["tier"] == "free"  # joined with the usage row


def test_feedback_needs_the_key_that_made_the_request(gateway, key):
    r = gateway.post("/v1/chat/completions", {**CHAT, "model": "kilo-auto/free"}, headers=_auth(key))
    rid = r.headers["x-autotier-response-id"]
    assert gateway.post("/v1/feedback", {"response_id": rid, "rating": "up"}).status_code == 401
    other = gateway.create_account(1.0)
    foreign = gateway.post("/v1/feedback", {"response_id": rid, "rating": "down"}, headers=_auth(other))
    unknown = gateway.post("/v1/feedback", {"response_id": "atr-nope", "rating": "down"}, headers=_auth(other))
    assert foreign.status_code == unknown.status_code == 404
    assert foreign.json() == unknown.json()  # nothing tells an existing id from an unknown one
    assert foreign.json()["error"]["code"] == "response_not_found"
    assert not [f for f in _feedback(gateway) if f["origin"] == "explicit" and f["usage_id"] == _rows(
        gateway, response_id=rid)[0]["id"]]


def test_the_same_feedback_twice_is_one_row_and_a_new_value_replaces_it(gateway, key):
    rid = gateway.post("/v1/chat/completions", {**CHAT, "model": "kilo-auto/free"},
                       headers=_auth(key)).headers["x-autotier-response-id"]
    body = {"response_id": rid, "rating": "up"}
    assert gateway.post("/v1/feedback", body, headers=_auth(key)).json()["feedback"][0]["changed"] is True
    assert gateway.post("/v1/feedback", body, headers=_auth(key)).json()["feedback"][0]["changed"] is False
    usage_id = _rows(gateway, response_id=rid)[0]["id"]
    assert [f["value"] for f in _feedback(gateway) if f["usage_id"] == usage_id and f["signal"] == "rating"] == ["up"]
    r = gateway.post("/v1/feedback", {**body, "rating": "down"}, headers=_auth(key))
    assert r.json()["feedback"] == [{"signal": "rating", "value": "down", "success": 0.0, "changed": True}]
    assert [f["value"] for f in _feedback(gateway) if f["usage_id"] == usage_id and f["signal"] == "rating"] == ["down"]
    metrics = httpx.get(gateway.url + "/metrics").text
    assert 'autotier_feedback_total{signal="rating",value="down"}' in metrics


@pytest.mark.parametrize(("content", "status", "code"), [
    (b"not json", 400, "invalid_json"),
    (b"[]", 400, "invalid_body"),
    (b'{"response_id": "x", "rating": "up", "stars": 5}', 400, "unknown_field"),
    (b'{"response_id": "x", "session_id": "s", "turn": 1, "rating": "up"}', 400, "invalid_target"),
    (b'{"rating": "up"}', 400, "invalid_target"),
    (b'{"response_id": "x"}', 400, "missing_field"),
    (b'{"response_id": "x", "note": "only a note"}', 400, "missing_field"),
    (b'{"response_id": 7, "rating": "up"}', 400, "invalid_type"),
    (b'{"response_id": "x", "rating": "great"}', 400, "invalid_value"),
    (b'{"response_id": "x", "solved": "yes"}', 400, "invalid_type"),
    (b'{"session_id": "s", "turn": 0, "rating": "up"}', 400, "invalid_type"),
    (b'{"session_id": "s", "turn": true, "rating": "up"}', 400, "invalid_type"),
    (b'{"response_id": "x", "rating": "up", "note": 3}', 400, "invalid_type"),
    (b'{"response_id": "x", "rating": "up", "note": "' + b"n" * 20_000 + b'"}', 413, "request_too_large"),
])
def test_bad_feedback_bodies_are_refused_and_store_nothing(gateway, key, content, status, code):
    before = len(_feedback(gateway))
    r = httpx.post(gateway.url + "/v1/feedback", content=content, timeout=30,
                   headers={**_auth(key), "content-type": "application/json"})
    assert (r.status_code, r.json()["error"]["code"]) == (status, code), r.text
    assert r.json()["error"]["type"] == "invalid_request_error" and r.json()["error"]["message"]
    assert len(_feedback(gateway)) == before


def test_a_request_sent_again_marks_the_earlier_reply_retried(gateway, key):
    body = {**CHAT, "model": "kilo-auto/free",
            "messages": [{"role": "user", "content": f"retry me {uuid.uuid4().hex}"}]}
    first = gateway.post("/v1/chat/completions", body, headers=_auth(key)).headers["x-autotier-response-id"]
    second = gateway.post("/v1/chat/completions", body, headers=_auth(key)).headers["x-autotier-response-id"]
    row1, row2 = _rows(gateway, response_id=first)[0], _rows(gateway, response_id=second)[0]
    assert row1["request_hash"] == row2["request_hash"]
    signal = _signals(gateway, row1["id"])[("retried", row1["resolved_model"])]
    assert (signal["origin"], signal["success"]) == ("implicit", 0.0)
    assert not _signals(gateway, row2["id"])
    other = gateway.create_account(1.0)  # another caller's identical request is no retry of this one
    gateway.post("/v1/chat/completions", body, headers=_auth(other))
    assert _rows(gateway, response_id=second)[0]["request_hash"] != _rows(gateway)[-1]["request_hash"]


def test_naming_another_model_by_hand_marks_the_previous_turn_switched(gateway, key):
    session = f"sw-{uuid.uuid4().hex[:8]}"
    gateway.post("/v1/chat/completions", {**CHAT, "model": "kilo-auto/free"}, headers=_auth(key, session))
    previous = _rows(gateway, session_id=session)[0]
    chain = _chain(gateway, "kilo-auto/balanced")
    other = next(m for m in chain if m != previous["resolved_model"])
    r = gateway.post("/v1/chat/completions", {**CHAT, "model": other}, headers=_auth(key, session))
    assert r.status_code == 200, r.text
    signal = _signals(gateway, previous["id"])[("switched_model", previous["resolved_model"])]
    assert signal["value"] == f"to {other}" and signal["success"] == 0.0
    # the same model again is no switch
    gateway.post("/v1/chat/completions", {"model": other, "messages": [{"role": "user", "content": "next"}]},
                 headers=_auth(key, session))
    assert not _signals(gateway, _rows(gateway, session_id=session)[1]["id"])


def test_an_empty_reply_and_a_failed_fallback_are_recorded(gateway, key, mock_upstream):
    chain = _chain(gateway, "kilo-auto/balanced")
    mock_upstream.configure({"default": {"answers": [{"match": "SAY NOTHING", "text": ""}]},
                             "models": {chain[0]: {"fail_next": 1, "fail_next_status": 503}}})
    body = {"model": "kilo-auto/balanced", "messages": [{"role": "user", "content": "SAY NOTHING please"}]}
    r = gateway.post("/v1/chat/completions", body, headers=_auth(key))
    assert r.status_code == 200 and r.headers["x-autotier-fallbacks"] == chain[0]
    row = _rows(gateway, response_id=r.headers["x-autotier-response-id"])[0]
    signals = _signals(gateway, row["id"])
    assert signals[("error", chain[0])]["value"] == "failed; fell back"
    assert signals[("empty", row["resolved_model"])]["success"] == 0.0
    assert set(signals) == {("error", chain[0]), ("empty", row["resolved_model"])}


def test_a_fallback_refused_by_a_rate_limit_is_not_an_error_signal(gateway, key, mock_upstream):
    chain = _chain(gateway, "kilo-auto/balanced")
    mock_upstream.configure({"models": {chain[0]: {"fail_next": 1, "fail_next_status": 429, "retry_after_s": 0}}})
    r = gateway.post("/v1/chat/completions", {**CHAT, "model": "kilo-auto/balanced"}, headers=_auth(key))
    assert r.status_code == 200 and r.headers["x-autotier-fallbacks"] == chain[0]
    row = _rows(gateway, response_id=r.headers["x-autotier-response-id"])[0]
    assert ("error", chain[0]) not in _signals(gateway, row["id"])


def test_feedback_implicit_signals_and_captures_on_postgresql(pg):
    ledger = Ledger(pg.create_database("feedback_smoke"))
    try:
        account, _ = ledger.create_account(1.0)
        row = UsageRow(account.id, "chat", "free", "kilo-auto/free", "m1", ("m0",), 1, 2, 0.0, 1.0, 200,
                       session_id="s", response_id="r1", request_hash="h")
        first = ledger.record(row, then=lambda tx, uid: record_implicit(tx, uid, row, Observed()))
        ledger.record(row, then=lambda tx, uid: record_implicit(tx, uid, row, Observed("m2", empty=True)))
        request = parse_feedback({"response_id": "r1", "rating": "up"})
        assert give(ledger, account.id, request)["feedback"][0]["changed"] is True
        assert give(ledger, account.id, request)["feedback"][0]["changed"] is False
        assert give(ledger, account.id + 1, request) is None
        signals = {(f["usage_id"], f["signal"], f["model"]) for f in ledger.feedback_rows()}
        assert {(first, "retried", "m1"), (first, "switched_model", "m1"), (first, "error", "m0"),
                (first + 1, "empty", "m1"), (first + 1, "rating", "m1")} <= signals
        snapshot = Snapshot("the user's text", None, 2)
        ledger.run(lambda tx: store(tx, first, row, snapshot, 3600.0))
        ledger.run(lambda tx: store(tx, first, row, snapshot, -1.0))  # already expired
        assert [c["text"] for c in ledger.captures(since=0.0, limit=5)] == ["the user's text"]
        assert delete_expired(ledger) == 1
    finally:
        ledger.close()


def test_a_stream_cut_by_the_upstream_is_an_error_signal(gateway, key, mock_upstream):
    model = _chain(gateway, "kilo-auto/balanced")[-1]
    mock_upstream.configure({"models": {model: {"cut_mid_stream_after": 2}}})
    session = f"cut-{uuid.uuid4().hex[:8]}"
    with httpx.stream("POST", gateway.url + "/v1/chat/completions", timeout=30, headers=_auth(key, session),
                      json={"model": model, "stream": True, "messages": [{"role": "user", "content": "a b c d e"}]}) as r:
        assert r.status_code == 200
        r.read()
    [row] = _rows(gateway, session_id=session)
    assert row["status"] == 502
    assert _signals(gateway, row["id"])[("error", model)]["value"] == "status 502"
