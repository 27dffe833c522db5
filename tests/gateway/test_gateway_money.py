"""Money paths against a hostile client (issue: money and abuse safety): a paid request is
held before the provider is called and settled after, so concurrency cannot overdraw an
account; a stream the client abandons is billed for what it received; every paid model has
a price; only allowed fields reach the provider."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from router.gateway.accounts import Ledger

CHAT = {"messages": [{"role": "user", "content": "hello"}]}
LONG_PROMPT = "please count slowly " + " ".join(f"word{i}" for i in range(40))


def _auth(key: str | None, mode: str | None = None) -> dict[str, str]:
    headers = {"authorization": f"Bearer {key}"} if key else {}
    if mode:
        headers["x-kilocode-mode"] = mode
    return headers


def _rows_for(gateway, account_key: str) -> list[dict]:
    ledger = Ledger(gateway.db)
    try:
        account = ledger.lookup(account_key)
        assert account is not None
        return [r for r in ledger.usage(100_000) if r["account_id"] == account.id]
    finally:
        ledger.close()


async def _burst(url: str, key: str, n: int, body: dict) -> list[int]:
    async with httpx.AsyncClient(timeout=60.0) as client:
        replies = await asyncio.gather(*(
            client.post(url + "/v1/chat/completions", json=body, headers=_auth(key, "code")) for _ in range(n)))
    return [r.status_code for r in replies]


def test_concurrent_requests_cannot_overdraw_a_small_balance(gateway, mock_upstream):
    key = gateway.create_account(0.01)
    statuses = asyncio.run(_burst(gateway.url, key, 50, {**CHAT, "model": "kilo-auto/frontier"}))
    assert set(statuses) <= {200, 402}, statuses
    assert 200 in statuses and 402 in statuses
    assert gateway.balance(key) >= 0.0
    rows = _rows_for(gateway, key)
    assert len(rows) == 50
    billed = sum(r["cost_usd"] or 0.0 for r in rows)
    assert billed > 0 and abs(0.01 - billed - gateway.balance(key)) < 1e-9  # settled exactly, no hold left


def test_a_balance_below_one_answer_gets_402_before_any_provider_call(gateway, mock_upstream):
    key = gateway.create_account(0.0001)
    r = gateway.post("/v1/chat/completions", {**CHAT, "model": "kilo-auto/frontier"}, headers=_auth(key, "code"))
    assert r.status_code == 402 and r.json()["error"]["code"] == "INSUFFICIENT_BALANCE"
    assert "needs at least" in r.json()["error"]["message"]
    assert mock_upstream.stats()["models"] == {}
    assert gateway.balance(key) == pytest.approx(0.0001)


def test_the_output_cap_is_lowered_to_what_the_balance_covers(gateway, mock_upstream):
    key = gateway.create_account(0.01)  # sonnet: $15 per million output tokens -> ~660 tokens
    r = gateway.post("/v1/chat/completions", {**CHAT, "model": "kilo-auto/frontier", "max_tokens": 100_000},
                     headers=_auth(key, "code"))
    assert r.status_code == 200
    sent = mock_upstream.last_request("anthropic/claude-sonnet-4.6")
    assert 256 <= sent["max_tokens"] < 700
    assert gateway.balance(key) >= 0.0


def test_a_client_that_leaves_mid_stream_is_billed_for_what_it_received(gateway, mock_upstream):
    mock_upstream.patch(**{"anthropic/claude-sonnet-4.6": {"chunk_delay_ms": 150}})
    key = gateway.create_account(5.0)
    body = {"model": "kilo-auto/frontier", "stream": True, "messages": [{"role": "user", "content": LONG_PROMPT}]}
    seen = ""
    with httpx.Client(timeout=30.0) as client, client.stream(
            "POST", gateway.url + "/v1/chat/completions", json=body, headers=_auth(key, "code")) as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            if '"content"' in line:
                seen += line
            if seen.count('"content"') >= 5:
                break  # leave before the end: the connection closes here
    rows = []
    deadline = time.monotonic() + 10
    while not rows and time.monotonic() < deadline:
        rows = _rows_for(gateway, key)
        time.sleep(0.1)
    assert len(rows) == 1
    row = rows[0]
    assert row["status"] == 499
    assert row["tokens_in"] > 0 and row["tokens_out"] > 0 and row["cost_usd"] > 0
    assert gateway.balance(key) == pytest.approx(5.0 - row["cost_usd"])


def test_the_balanced_chat_model_is_billed(gateway, mock_upstream):
    key = gateway.create_account(1.0)
    r = gateway.post("/v1/chat/completions", {**CHAT, "model": "kilo-auto/balanced"}, headers=_auth(key))
    assert r.status_code == 200 and r.headers["x-autotier-model"] == "qwen/qwen3.6-plus"
    (row,) = _rows_for(gateway, key)
    assert row["cost_usd"] and row["cost_usd"] > 0
    assert gateway.balance(key) == pytest.approx(1.0 - row["cost_usd"])


def test_provider_routing_fields_never_reach_the_provider(gateway, mock_upstream):
    extras = {"models": ["openai/gpt-5.5"], "plugins": [{"id": "web"}], "provider": {"order": ["x"]},
              "route": "fallback", "transforms": ["middle-out"], "n": 3}
    r = gateway.post("/v1/chat/completions", {**CHAT, **extras, "model": "kilo-auto/free", "temperature": 0.2},
                     headers={"x-session-id": "fields-anon"})
    assert r.status_code == 200
    sent = mock_upstream.last_request(r.headers["x-autotier-model"])
    assert not set(extras) & set(sent) and sent["temperature"] == 0.2
    assert r.headers["x-autotier-dropped-fields"] == ",".join(sorted(extras))
    row = next(x for x in reversed(gateway.ledger_rows()) if x["session_id"] == "fields-anon")
    assert "plugins" not in row["provider_fields"].split(",") and "messages" in row["provider_fields"].split(",")


def test_an_operator_may_allow_a_field_for_one_key(gateway, mock_upstream):
    ledger = Ledger(gateway.db)
    try:
        account, key = ledger.create_account(1.0, frozenset({"provider"}))
    finally:
        ledger.close()
    r = gateway.post("/v1/chat/completions", {**CHAT, "model": "kilo-auto/balanced", "provider": {"sort": "price"},
                                              "plugins": [{"id": "web"}]}, headers=_auth(key))
    assert r.status_code == 200
    sent = mock_upstream.last_request("qwen/qwen3.6-plus")
    assert sent["provider"] == {"sort": "price"} and "plugins" not in sent


@pytest.mark.parametrize("path, body", [
    ("/v1/responses", {"input": "hi", "tools": [{"type": "web_search_preview"}]}),
    ("/v1/messages", {**CHAT, "max_tokens": 16, "tools": [{"type": "web_search_20250305", "name": "web_search"}]}),
])
def test_provider_run_tools_are_refused(gateway, mock_upstream, path, body):
    r = gateway.post(path, {**body, "model": "kilo-auto/free"})
    assert r.status_code == 400
    assert "tool_not_allowed" in r.text
    assert mock_upstream.stats()["models"] == {}


def test_stale_holds_are_given_back(tmp_path):
    ledger = Ledger(tmp_path / "holds.db")
    try:
        account, _ = ledger.create_account(1.0)
        hold = ledger.reserve(account.id, lambda balance: (0.4, None))
        assert hold is not None and ledger.accounts()[0].balance == pytest.approx(0.6)
        assert ledger.reserve(account.id, lambda balance: (0.7, None)) is None  # not covered: nothing taken
        assert ledger.release_stale_holds(3600) == 0
        assert ledger.release_stale_holds(-1) == 1
        assert ledger.accounts()[0].balance == pytest.approx(1.0)
    finally:
        ledger.close()


def test_a_running_requests_hold_is_renewed_and_a_dead_processs_is_given_back(tmp_path):
    """A stream that outlives the hold lifetime keeps its hold (the sweep renews the holds of
    this process's running requests); a hold nobody renews is given back."""
    from router.contract import ApiKind
    from router.gateway.app import sweep_once
    from router.gateway.handlers import Trace
    from tests.support.offline_gateway import offline_gateway

    gateway = offline_gateway(tmp_path / "g.db", hold_ttl_s=0.3)
    try:
        account, _ = gateway.ledger.create_account(10.0)
        model = gateway.config.config.catalog["anthropic/claude-sonnet-4.6"]
        body = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 100}

        async def scenario() -> None:
            running = await gateway.hold(ApiKind.CHAT, body, [model], account.id)
            orphan = gateway.ledger.reserve(account.id, lambda balance: (1.0, None))  # a process that died
            assert running is not None and orphan is not None and set(gateway.live_holds) == {running.id}
            for _ in range(3):  # three lifetimes pass while the request runs
                await asyncio.sleep(0.3)
                await sweep_once(gateway)
            left = 10.0 - running.amount
            assert gateway.ledger.accounts()[0].balance == pytest.approx(left)  # only the orphan came back
            trace = Trace(api=ApiKind.CHAT, started=time.monotonic(), account_id=account.id, hold=running)
            await gateway.record(trace, 200, model, (), (10, 5))  # the request ends: settled
            assert not gateway.live_holds
            assert gateway.ledger.accounts()[0].balance == pytest.approx(10.0 - model.cost_usd(10, 5))

        asyncio.run(scenario())
    finally:
        gateway.ledger.close()


def test_a_hold_is_renewed_no_longer_than_the_longest_request(tmp_path):
    from router.gateway.app import sweep_once
    from tests.support.offline_gateway import offline_gateway

    gateway = offline_gateway(tmp_path / "g.db", hold_ttl_s=0.3, max_request_s=0.5)
    try:
        account, _ = gateway.ledger.create_account(10.0)
        model = gateway.config.config.catalog["anthropic/claude-sonnet-4.6"]
        body = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 100}

        async def scenario() -> None:
            from router.contract import ApiKind

            stuck = await gateway.hold(ApiKind.CHAT, body, [model], account.id)  # a request that never settles
            assert stuck is not None
            for _ in range(4):
                await asyncio.sleep(0.3)
                await sweep_once(gateway)
            assert not gateway.live_holds
            assert gateway.ledger.accounts()[0].balance == pytest.approx(10.0)  # given back

        asyncio.run(scenario())
    finally:
        gateway.ledger.close()
