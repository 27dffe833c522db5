"""Upstream failures: fallbacks before the first byte, cooldowns that honour Retry-After,
client errors returned unretried, mid-stream cuts ending in a clean error event, and the
free tier that never runs out while a free model works."""

from __future__ import annotations

import asyncio
import json
import time

import anthropic
import httpx
import openai
import pytest

from tests.gateway.conftest import start_gateway

CHAT = {"messages": [{"role": "user", "content": "hello"}]}


@pytest.fixture(scope="module", params=["auto", "litellm"])
def faulty(request, mock_upstream_process, tmp_path_factory):
    """A gateway of its own (its cooldowns must not leak into other tests); failures
    without Retry-After cool a model for 0 s so every request meets the faults, and one
    caller's failure is enough to cool a model (`--cooldown-after 1`). Every
    test runs with both upstream clients: chat completions through the OpenAI-compatible
    client (`auto`) and through LiteLLM."""
    with start_gateway(mock_upstream_process, tmp_path_factory.mktemp("faulty"), "--upstream-client",
                       request.param, "--cooldown", "0", "--cooldown-after", "1",
                       "--anonymous-per-hour", "100000") as handle:
        handle.key = handle.create_account(1000.0)
        handle.client = request.param
        yield handle


def _auth(key: str, mode: str | None = None) -> dict[str, str]:
    headers = {"authorization": f"Bearer {key}"}
    if mode:
        headers["x-kilocode-mode"] = mode
    return headers


def test_30_percent_faults_with_a_healthy_fallback_give_no_client_errors(faulty, mock_upstream):
    # balanced/chat: qwen -> deepseek -> kimi. qwen fails 30% (5xx), deepseek 30% (429
    # with Retry-After 0), kimi is healthy.
    mock_upstream.configure({"seed": 7, "models": {
        "qwen/qwen3.6-plus": {"error_rate": 0.3, "error_status": 503},
        "deepseek/deepseek-v3.2": {"error_rate": 0.3, "error_status": 429, "retry_after_s": 0},
    }})

    async def run() -> list[int]:
        limits = asyncio.Semaphore(8)
        async with httpx.AsyncClient(base_url=faulty.url, timeout=30) as client:
            async def one(i: int) -> int:
                async with limits:
                    body = {**CHAT, "model": "kilo-auto/balanced", "stream": i % 5 == 0}
                    r = await client.post("/v1/chat/completions", json=body, headers=_auth(faulty.key))
                    if body["stream"]:
                        assert b'"error"' not in r.content
                    return r.status_code
            return await asyncio.gather(*(one(i) for i in range(500)))

    statuses = asyncio.run(run())
    assert statuses.count(200) == 500, {s: statuses.count(s) for s in set(statuses)}
    stats = mock_upstream.stats()["models"]
    assert stats["qwen/qwen3.6-plus"]["errors"] > 100  # the faults really happened
    assert stats["moonshotai/kimi-k2.5"]["requests"] >= 1
    # and the client under test really made the calls
    agent = stats["moonshotai/kimi-k2.5"]["last_headers"]["user-agent"]
    assert (agent == "autotier-gateway") == (faulty.client == "auto"), agent


def test_retry_after_is_honoured(faulty, mock_upstream):
    # open/code: minimax -> deepseek -> kimi. One 429 with Retry-After: 2 from minimax.
    mock_upstream.configure({"models": {"minimax/minimax-m2.7": {
        "fail_next": 1, "fail_next_status": 429, "retry_after_s": 2}}})
    body = {**CHAT, "model": "kilo-auto/open"}
    first = faulty.post("/v1/chat/completions", body, headers=_auth(faulty.key, "code"))
    failed_at = time.monotonic()
    assert first.status_code == 200
    assert first.headers["x-autotier-model"] == "deepseek/deepseek-v3.2"
    assert first.headers["x-autotier-fallbacks"] == "minimax/minimax-m2.7"
    for _ in range(3):  # inside the Retry-After window: minimax is skipped by route()
        r = faulty.post("/v1/chat/completions", body, headers=_auth(faulty.key, "code"))
        assert r.headers["x-autotier-model"] == "deepseek/deepseek-v3.2"
        assert "skip minimax/minimax-m2.7: cooling down" in r.headers["x-autotier-reason"]
    assert mock_upstream.stats()["models"]["minimax/minimax-m2.7"]["requests"] == 1
    time.sleep(max(0.0, 2.2 - (time.monotonic() - failed_at)))
    again = faulty.post("/v1/chat/completions", body, headers=_auth(faulty.key, "code"))
    assert again.headers["x-autotier-model"] == "minimax/minimax-m2.7"


def test_a_400_is_returned_not_retried_and_does_not_cool_down(faulty, mock_upstream):
    mock_upstream.configure({"models": {"kimi-never": {}, "moonshotai/kimi-k2.5": {
        "fail_next": 1, "fail_next_status": 400}}})
    body = {**CHAT, "model": "kilo-auto/open"}
    r = faulty.post("/v1/chat/completions", body, headers=_auth(faulty.key, "plan"))
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "upstream_invalid_request"
    stats = mock_upstream.stats()["models"]
    assert stats["moonshotai/kimi-k2.5"]["requests"] == 1
    assert "deepseek/deepseek-v3.2" not in stats  # no fallback for the client's own error
    r = faulty.post("/v1/chat/completions", body, headers=_auth(faulty.key, "plan"))
    assert r.status_code == 200 and r.headers["x-autotier-model"] == "moonshotai/kimi-k2.5"
    # Anthropic clients get their own error shape
    mock_upstream.patch(**{"moonshotai/kimi-k2.5": {"fail_next": 1, "fail_next_status": 400}})
    m = faulty.post("/v1/messages", {**CHAT, "model": "kilo-auto/open", "max_tokens": 16},
                    headers=_auth(faulty.key, "plan"))
    assert m.status_code == 400 and m.json()["type"] == "error"


def _sse_events(raw: bytes) -> list[tuple[str | None, str]]:
    events = []
    for block in raw.decode().split("\n\n"):
        event = None
        data = []
        for line in block.splitlines():
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
        if data:
            events.append((event, "\n".join(data)))
    return events


@pytest.mark.parametrize("path, body", [
    ("/v1/chat/completions", {**CHAT, "stream": True}),
    ("/v1/responses", {"input": "hello", "stream": True}),
    ("/v1/messages", {**CHAT, "max_tokens": 32, "stream": True}),
])
def test_mid_stream_cut_ends_with_a_clean_error_event(faulty, mock_upstream, path, body):
    model = "deepseek/deepseek-v3.2"
    mock_upstream.configure({"models": {model: {"cut_mid_stream_after": 3}}})
    r = faulty.post(path, {**body, "model": model}, headers=_auth(faulty.key))
    assert r.status_code == 200  # headers were sent before the cut
    events = _sse_events(r.content)
    if path.endswith("chat/completions"):
        assert events[-1][1] == "[DONE]"
        assert "error" in json.loads(events[-2][1])
    elif path.endswith("responses"):
        assert events[-1][0] == "error" and json.loads(events[-1][1])["type"] == "error"
    else:
        assert events[-1][0] == "error" and json.loads(events[-1][1])["error"]["type"] == "api_error"
    assert mock_upstream.stats()["models"][model]["requests"] == 1  # no fallback after the first byte


def test_mid_stream_cut_surfaces_as_sdk_errors(faulty, mock_upstream):
    model = "deepseek/deepseek-v3.2"
    mock_upstream.configure({"models": {model: {"cut_mid_stream_after": 3}}})
    client = openai.OpenAI(base_url=faulty.openai_base, api_key=faulty.key, max_retries=0)
    with pytest.raises(openai.APIError, match="upstream stream"):
        list(client.chat.completions.create(model=model, messages=CHAT["messages"], stream=True))
    claude = anthropic.Anthropic(base_url=faulty.url, api_key=faulty.key, max_retries=0)
    with pytest.raises(anthropic.APIError), claude.messages.stream(
            model=model, max_tokens=32, messages=CHAT["messages"]) as stream:
        list(stream.text_stream)


def test_free_tier_never_unavailable_while_a_free_model_works(faulty, mock_upstream):
    broken = ["nvidia/nemotron-3-ultra-550b-a55b:free", "stepfun/step-3.7-flash:free",
              "poolside/laguna-m.1:free", "google/gemma-4-26b-a4b-it:free"]
    mock_upstream.configure({"models": {m: {"error_rate": 1.0, "error_status": 429, "retry_after_s": 30}
                                        for m in broken}})
    for i in range(20):
        r = faulty.post("/v1/chat/completions", {**CHAT, "model": "kilo-auto/free"},
                        headers={"x-kilocode-taskid": f"task-{i}"})
        assert r.status_code == 200, r.text
        assert r.headers["x-autotier-model"] == "openrouter/free"
    # every free model cooling down (even the last resort): the tier still tries them
    mock_upstream.configure({"models": {"openrouter/free": {"fail_next": 1, "fail_next_status": 429,
                                                            "retry_after_s": 30}}})
    r = faulty.post("/v1/chat/completions", {**CHAT, "model": "kilo-auto/free"})
    assert r.status_code == 503  # the one working model failed this time: honest 503
    mock_upstream.configure({})
    r = faulty.post("/v1/chat/completions", {**CHAT, "model": "kilo-auto/free"})
    assert r.status_code == 200, r.text
    assert "trying them anyway" in r.headers["x-autotier-reason"]
