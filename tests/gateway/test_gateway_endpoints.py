"""The service endpoints, /models for Kilo, the explain endpoint, every prefix, and
session stickiness with reasoning stripping."""

from __future__ import annotations

import httpx
import pytest

PREFIXES = ["/v1", "/api/openrouter", "/api/gateway", "/api/gateway/v1"]
CHAT = {"messages": [{"role": "user", "content": "hello"}]}


def test_health_ready_metrics(gateway):
    assert httpx.get(gateway.url + "/healthz").json() == {"status": "ok"}
    ready = httpx.get(gateway.url + "/readyz").json()
    assert ready["status"] == "ready" and ready["config_error"] is None
    gateway.post("/v1/chat/completions", {**CHAT, "model": "kilo-auto/free"})
    text = httpx.get(gateway.url + "/metrics").text
    for name in ("autotier_requests_total", "autotier_routing_decisions_total",
                 "autotier_upstream_latency_seconds", "autotier_errors_total", "autotier_fallbacks"):
        assert name in text
    assert 'tier="free"' in text


@pytest.mark.parametrize("prefix", PREFIXES)
def test_models_listing_for_kilo(gateway, prefix):
    data = httpx.get(gateway.url + prefix + "/models").json()["data"]
    by_id = {m["id"]: m for m in data}
    for tier in ("frontier", "balanced", "free", "open", "small", "efficient"):
        entry = by_id[f"kilo-auto/{tier}"]
        assert "tools" in entry["supported_parameters"]
        assert entry["autoRouting"]["models"] and "Data:" in entry["description"]
        assert isinstance(entry["preferredIndex"], int) and entry["opencode"]["family"]
    assert by_id["kilo-auto/free"]["isFree"] is True and by_id["kilo-auto/frontier"]["isFree"] is False
    opus = by_id["anthropic/claude-opus-4.7"]
    assert opus["opencode"]["ai_sdk_provider"] == "anthropic" and float(opus["pricing"]["prompt"]) == 5e-6
    assert by_id["openai/gpt-5.5"]["opencode"]["ai_sdk_provider"] == "openai"
    for entry in data:
        assert {"id", "name", "created", "description", "context_length", "architecture", "pricing",
                "top_provider", "supported_parameters"} <= set(entry)


@pytest.mark.parametrize("prefix", PREFIXES)
def test_every_prefix_serves_all_apis(gateway, prefix):
    assert gateway.post(prefix + "/chat/completions", {**CHAT, "model": "kilo-auto/free"}).status_code == 200
    assert gateway.post(prefix + "/responses", {"input": "hi", "model": "kilo-auto/free"}).status_code == 200
    r = gateway.post(prefix + "/messages", {**CHAT, "model": "kilo-auto/free", "max_tokens": 8})
    assert r.status_code == 200 and r.json()["type"] == "message"


def test_route_explains_without_calling_a_provider(gateway, funded_key, mock_upstream):
    r = gateway.post("/v1/route", {**CHAT, "model": "kilo-auto/frontier"},
                     headers={"x-kilocode-mode": "plan", "authorization": f"Bearer {funded_key}"})
    decision = r.json()
    assert decision["model"] == "anthropic/claude-opus-4.7" and decision["tier"] == "frontier"
    assert decision["fallbacks"] and decision["reason"] and decision["params"]
    assert mock_upstream.stats()["total_requests"] == 0
    r = gateway.post("/v1/route", {"api": "messages", "model": "kilo-auto/balanced"})
    assert r.json()["model"] == "anthropic/claude-sonnet-4.6"
    assert gateway.post("/v1/route", {"model": "nope"}).status_code == 404


def test_headers_are_ascii_and_capped(gateway):
    r = gateway.post("/v1/chat/completions", {**CHAT, "model": "kilo-auto/free"},
                     headers={"x-kilocode-taskid": "t-\u00e9t\u00e9".encode()})
    assert r.status_code == 200
    assert r.headers["x-autotier-tier"] == "free"
    assert len(r.headers["x-autotier-reason"]) <= 1024
    r.headers["x-autotier-reason"].encode("ascii")


def test_session_model_is_remembered_and_foreign_reasoning_stripped(gateway, funded_key, mock_upstream):
    headers = {"authorization": f"Bearer {funded_key}", "x-kilocode-taskid": "t-families"}
    assert gateway.post("/v1/chat/completions", {**CHAT, "model": "openai/gpt-5.4"}, headers=headers).status_code == 200
    history = [
        {"role": "user", "content": "hello"},
        {"role": "assistant", "content": "hi", "reasoning_content": "gpt thoughts",
         "reasoning_details": [{"type": "reasoning.encrypted", "data": "x"}]},
        {"role": "user", "content": "go on"},
    ]
    r = gateway.post("/v1/chat/completions", {"messages": history, "model": "anthropic/claude-sonnet-4.6"},
                     headers=headers)
    assert r.status_code == 200
    sent = mock_upstream.last_request("anthropic/claude-sonnet-4.6")["messages"]
    assert not any("reasoning_content" in m or "reasoning_details" in m for m in sent)
    assert [m["content"] for m in sent] == ["hello", "hi", "go on"]
    # same family next turn: the (claude) reasoning is kept
    history[1] = {"role": "assistant", "content": "hi", "reasoning_content": "claude thoughts"}
    gateway.post("/v1/chat/completions", {"messages": history, "model": "anthropic/claude-opus-4.7"},
                 headers=headers)
    sent = mock_upstream.last_request("anthropic/claude-opus-4.7")["messages"]
    assert sent[1].get("reasoning_content") == "claude thoughts"


def test_demo_mode_starts_its_own_mock(tmp_path):
    import sys

    from tests.support.processes import LISTENING_URL, running_process

    command = [sys.executable, "-m", "router.cli", "serve", "--demo", "--port", "0",
               "--db", str(tmp_path / "d.db")]
    pattern = __import__("re").compile(r"gateway listening on (http://\S+)")
    with running_process(command, url_pattern=pattern, health_path="/readyz", start_timeout_s=60) as proc:
        r = httpx.post(proc.url + "/v1/chat/completions", json={**CHAT, "model": "kilo-auto/free"}, timeout=30)
        assert r.status_code == 200 and r.json()["model"].endswith(":free")
        mock_url = __import__("re").search(r"demo: mock upstream at (http://\S+)", proc.output()).group(1)
        assert httpx.get(mock_url + "/_mock/stats", timeout=5).status_code == 200
        proc.process.terminate()  # SIGTERM, as a service manager stops it
        assert proc.process.wait(20) == 0
        with pytest.raises(httpx.ConnectError):  # the demo's mock went with it
            httpx.get(mock_url + "/_mock/stats", timeout=5)
    assert LISTENING_URL.search(proc.output())
