"""Fault injection, run-time reconfiguration and stats, against the real mock process."""

from __future__ import annotations

import time

import anthropic
import httpx
import openai
import pytest

from tests.support.mock_control import MockUpstreamHandle

HI = [{"role": "user", "content": "hi"}]
HTTP = httpx.Client(timeout=10.0)  # one pool: a fresh client per call costs ~20 ms


def chat(mock: MockUpstreamHandle, model: str = "m", **extra: object) -> httpx.Response:
    return HTTP.post(mock.openai_base + "/chat/completions", json={"model": model, "messages": HI, **extra})


def test_429_carries_retry_after_in_each_api_shape(mock_upstream: MockUpstreamHandle) -> None:
    mock_upstream.patch(m={"error_rate": 1.0, "error_status": 429, "retry_after_s": 7})
    reply = chat(mock_upstream)
    assert reply.status_code == 429 and reply.headers["retry-after"] == "7"
    assert reply.headers["retry-after-ms"] == "7000"
    assert reply.json()["error"]["code"] == "rate_limit_exceeded"
    client = anthropic.Anthropic(base_url=mock_upstream.url, api_key="x", max_retries=0)
    with pytest.raises(anthropic.RateLimitError) as caught:
        client.messages.create(model="m", max_tokens=5, messages=HI)
    assert caught.value.body == {"type": "error", "error": {"type": "rate_limit_error", "message": caught.value.body[
        "error"]["message"]}}
    assert caught.value.response.headers["retry-after"] == "7"


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_through_the_openai_sdk(mock_upstream: MockUpstreamHandle, status: int) -> None:
    mock_upstream.patch(m={"error_rate": 1.0, "error_status": status})
    client = openai.OpenAI(base_url=mock_upstream.openai_base, api_key="x", max_retries=0)
    with pytest.raises(openai.APIStatusError) as caught:
        client.responses.create(model="m", input="hi")
    assert caught.value.status_code == status
    assert caught.value.body["type"] == "server_error"  # the SDK unwraps {"error": {...}}


def test_unavailable_model_is_404_model_not_found(mock_upstream: MockUpstreamHandle) -> None:
    mock_upstream.configure({"models": {"old-*": {"unavailable": True}}})
    reply = chat(mock_upstream, "old-model")
    assert reply.status_code == 404 and reply.json()["error"]["code"] == "model_not_found"
    reply = httpx.post(mock_upstream.url + "/v1/messages", json={"model": "old-x", "messages": HI, "max_tokens": 5})
    assert reply.status_code == 404 and reply.json()["error"]["type"] == "not_found_error"
    assert chat(mock_upstream, "new-model").status_code == 200


def test_fail_next_fails_exactly_n_requests_then_recovers(mock_upstream: MockUpstreamHandle) -> None:
    mock_upstream.patch(m={"fail_next": 2, "fail_next_status": 503})
    assert [chat(mock_upstream).status_code for _ in range(4)] == [503, 503, 200, 200]
    assert chat(mock_upstream, "other").status_code == 200
    mock_upstream.patch(m={"fail_next": 1})  # re-armed by setting it again; other fields kept
    assert [chat(mock_upstream).status_code for _ in range(2)] == [503, 200]
    mock_upstream.configure({"models": {"m": {"fail_next": 1}}})  # no fail_next_status: error_status
    assert [chat(mock_upstream).status_code for _ in range(2)] == [500, 200]


def test_error_rate_is_reproducible_with_a_seed(mock_upstream: MockUpstreamHandle) -> None:
    def run() -> list[int]:
        mock_upstream.configure({"seed": 42, "default": {"error_rate": 0.3, "error_status": 502}})
        return [chat(mock_upstream).status_code for _ in range(40)]

    first = run()
    assert first == run() and 3 < first.count(502) < 25


def test_cut_mid_stream_drops_the_connection(mock_upstream: MockUpstreamHandle) -> None:
    mock_upstream.patch(m={"cut_mid_stream_after": 2})
    received: list[str] = []
    with pytest.raises(httpx.RemoteProtocolError), httpx.stream(  # noqa: PT012
            "POST", mock_upstream.openai_base + "/chat/completions",
            json={"model": "m", "stream": True, "messages": HI}) as reply:
        for line in reply.iter_lines():
            received += [line] if line.startswith("data: ") else []
    assert len(received) == 2
    client = openai.OpenAI(base_url=mock_upstream.openai_base, api_key="x", max_retries=0)
    with pytest.raises(httpx.RemoteProtocolError):  # the SDK does not wrap errors after the headers
        list(client.chat.completions.create(model="m", messages=HI, stream=True))
    assert chat(mock_upstream).status_code == 200  # non-streaming requests are not cut


def test_timeout_hangs_until_the_client_gives_up(mock_upstream: MockUpstreamHandle) -> None:
    mock_upstream.patch(m={"timeout": True})
    client = openai.OpenAI(base_url=mock_upstream.openai_base, api_key="x", max_retries=0, timeout=0.3)
    start = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        client.chat.completions.create(model="m", messages=HI)
    assert 0.25 < time.monotonic() - start < 2
    assert mock_upstream.stats()["recent"][-1] == {"model": "m", "api": "chat", "stream": False, "status": 0}


def test_latency_and_stream_pacing(mock_upstream: MockUpstreamHandle) -> None:
    mock_upstream.patch(m={"latency_ms": 150, "ttft_ms": 100, "chunk_delay_ms": 20})
    start = time.monotonic()
    assert chat(mock_upstream, "fast").status_code == 200
    assert time.monotonic() - start < 0.1
    start = time.monotonic()
    with httpx.stream("POST", mock_upstream.openai_base + "/chat/completions",
                      json={"model": "m", "stream": True, "messages": HI}) as reply:
        lines = reply.iter_lines()
        next(line for line in lines if line.startswith("data: "))
        first = time.monotonic() - start
        rest = sum(1 for line in lines if line.startswith("data: "))
    total = time.monotonic() - start
    assert 0.24 < first < 0.6 and total - first >= 0.02 * (rest - 1)


def test_stats_record_bodies_headers_and_order(mock_upstream: MockUpstreamHandle) -> None:
    mock_upstream.patch(a={"fail_next": 1, "error_status": 429})
    chat(mock_upstream, "a", reasoning_effort="low")
    chat(mock_upstream, "b", stream=True)
    stats = mock_upstream.stats()
    assert stats["total_requests"] == 2
    assert stats["models"]["a"]["errors"] == 1 and stats["models"]["a"]["last_request"]["reasoning_effort"] == "low"
    assert stats["models"]["b"]["streams"] == 1 and stats["models"]["b"]["last_api"] == "chat"
    assert [(r["model"], r["status"]) for r in stats["recent"]] == [("a", 429), ("b", 200)]
    httpx.delete(mock_upstream.url + "/_mock/stats").raise_for_status()
    assert mock_upstream.stats()["total_requests"] == 0


def test_runtime_config_replace_patch_and_reset(mock_upstream: MockUpstreamHandle) -> None:
    live = mock_upstream.configure({"seed": 3, "default": {"latency_ms": 1}, "models": {"x": {"fail_next": 1}}})
    assert live["seed"] == 3 and live["models"]["x"]["fail_next"] == 1
    live = mock_upstream.patch(y={"unavailable": True})
    assert set(live["models"]) == {"x", "y"} and live["default"]["latency_ms"] == 1
    assert set(mock_upstream.patch(x=None)["models"]) == {"y"}
    bad = httpx.post(mock_upstream.url + "/_mock/config", json={"models": {"x": {"error_rate": 2}}})
    assert bad.status_code == 400 and "models.x.error_rate" in bad.json()["error"]["message"]
    bad = httpx.patch(mock_upstream.url + "/_mock/config", json={"models": {"x": {"error_status": 418}}})
    assert bad.status_code == 400 and "error_status" in bad.json()["error"]["message"]
    mock_upstream.reset()
    assert httpx.get(mock_upstream.url + "/_mock/config").json()["models"] == {}


@pytest.mark.parametrize(("path", "body", "shape"), [
    ("/v1/chat/completions", b"{not json", "error"),
    ("/v1/chat/completions", b'{"messages": []}', "error"),
    ("/v1/responses", b'{"model": "m"}', "error"),
    ("/v1/messages", b'[1, 2]', "type"),
])
def test_bad_requests_get_400_in_the_api_shape(
        mock_upstream: MockUpstreamHandle, path: str, body: bytes, shape: str) -> None:
    reply = httpx.post(mock_upstream.url + path, content=body)
    assert reply.status_code == 400 and shape in reply.json()
