"""The OpenAI-compatible chat client against a real HTTP server on loopback: what it sends,
how it reads replies and streams, and how every kind of failure reaches `classify` (the
same contract as LiteLLM's exceptions)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web

from router.gateway import openai_compat
from router.gateway.openai_compat import ChatClient, ProviderError, Target
from router.gateway.upstream import classify, load_litellm

Handler = Callable[[web.Request], Any]


@contextlib.asynccontextmanager
async def provider(handler: Handler) -> AsyncIterator[tuple[Target, list[dict[str, Any]]]]:
    """A one-route provider on a free loopback port; yields its target and the bodies it got."""
    seen: list[dict[str, Any]] = []

    async def route(request: web.Request) -> web.StreamResponse:
        seen.append({"body": await request.json(), "headers": dict(request.headers)})
        return await handler(request)

    app = web.Application()
    app.router.add_post("/v1/chat/completions", route)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    target = Target(f"http://127.0.0.1:{port}/v1/chat/completions", "vendor/model-x",
                    {"content-type": "application/json", "authorization": "Bearer k"})
    try:
        yield target, seen
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def chat_client(timeout_s: float = 5.0) -> AsyncIterator[ChatClient]:
    client = ChatClient(timeout_s)
    try:
        yield client
    finally:
        await client.close()


def run(coro: Any) -> Any:
    return asyncio.run(coro)


BODY = {"messages": [{"role": "user", "content": "hi"}], "temperature": 0.2, "provider": {"sort": "price"}}


def sse_reply(*events: bytes) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        for event in events:
            await response.write(event)
        await response.write_eof()
        return response
    return handler


def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
    body = {"id": "c1", "object": "chat.completion.chunk", "model": "vendor/model-x",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
    return b"data: " + json.dumps(body).encode() + b"\r\n\r\n"


def test_a_plain_reply_comes_back_as_a_dict_and_the_body_is_sent_as_the_client_wrote_it():
    reply = {"id": "x", "object": "chat.completion", "choices": [{"index": 0, "finish_reason": "stop",
             "message": {"role": "assistant", "content": "hello"}}], "usage": {"prompt_tokens": 3}}

    async def answer(request: web.Request) -> web.Response:
        return _json(reply)

    async def go() -> None:
        big = 2**70  # valid JSON that orjson refuses: still sent
        async with provider(answer) as (target, seen), chat_client() as client:
            data = await client.call(target, {**BODY, "seed": big, "stream": False}, stream=False)
        assert data == reply
        sent = seen[0]["body"]
        assert sent["model"] == "vendor/model-x" and sent["seed"] == big
        assert sent["provider"] == {"sort": "price"}  # extras untouched
        assert "stream" not in sent and "stream_options" not in sent
        assert seen[0]["headers"]["Authorization"] == "Bearer k"
    run(go())


def test_a_stream_yields_chunk_dicts_with_usage_requested_and_comments_skipped():
    events = (b": OPENROUTER PROCESSING\n\n", chunk({"role": "assistant", "content": ""}),
              chunk({"content": "hel"}), chunk({"content": "lo"}, "stop"),
              chunk({}, None, usage={"prompt_tokens": 3, "completion_tokens": 2}), b"data: [DONE]\n\n")

    async def go() -> None:
        async with provider(sse_reply(*events)) as (target, seen), chat_client() as client:
            stream = await client.call(target, {**BODY, "stream_options": {"x": 1}}, stream=True)
            items = [item async for item in stream]
        assert [i["choices"][0]["delta"].get("content") for i in items] == ["", "hel", "lo", None]
        assert items[-1]["usage"]["completion_tokens"] == 2
        assert seen[0]["body"]["stream"] is True
        assert seen[0]["body"]["stream_options"] == {"x": 1, "include_usage": True}
    run(go())


@pytest.mark.parametrize("status, headers, retryable, retry_after", [
    (429, {"retry-after": "7"}, True, 7.0),
    (503, {}, True, None),
    (401, {}, True, None),
    (400, {}, False, None),
    (422, {}, False, None),
])
def test_refusals_are_classified_like_litellm_errors(status, headers, retryable, retry_after):
    async def handler(request: web.Request) -> web.Response:
        return _json({"error": {"message": f"nope {status}", "code": status}}, status, headers)

    async def go() -> ProviderError:
        async with provider(handler) as (target, _), chat_client() as client:
            with pytest.raises(ProviderError) as caught:
                await client.call(target, BODY, stream=True)
        return caught.value

    error = run(go())
    failure = classify(error, 0.0)
    assert (failure.status, failure.retryable, failure.retry_after) == (status, retryable, retry_after)
    assert failure.message == f"nope {status}" and failure.from_provider


def test_errors_inside_a_200_are_failures_not_replies():
    async def plain(request: web.Request) -> web.Response:
        return _json({"error": {"message": "upstream overloaded", "code": 529}})

    async def go() -> tuple[ProviderError, ProviderError]:
        stream_events = (chunk({"content": "a"}), b'data: {"error":{"message":"cut","code":502}}\n\n')
        async with chat_client() as client:
            async with provider(plain) as (target, _):
                with pytest.raises(ProviderError) as whole:
                    await client.call(target, BODY, stream=False)
            async with provider(sse_reply(*stream_events)) as (target, _):
                stream = await client.call(target, BODY, stream=True)
                assert (await anext(stream))["choices"][0]["delta"]["content"] == "a"
                with pytest.raises(ProviderError) as mid:
                    await anext(stream)
        return whole.value, mid.value

    whole, mid = run(go())
    assert whole.status_code == 529 and "upstream overloaded" in whole.message
    assert mid.status_code == 502 and classify(mid, 0.0).retryable


def test_an_unreachable_or_silent_provider_is_a_retryable_failure():
    async def hang(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return _json({})

    async def go() -> tuple[ProviderError, ProviderError]:
        async with chat_client(0.3) as client:
            async with provider(hang) as (target, _):
                with pytest.raises(ProviderError) as slow:
                    await client.call(target, BODY, stream=False)
            # the server is gone now: nothing listens on that port
            with pytest.raises(ProviderError) as refused:
                await client.call(target, BODY, stream=False)
        return slow.value, refused.value

    slow, refused = run(go())
    assert slow.status_code == 504 and classify(slow, 0.0).retryable
    assert refused.status_code == 502 and classify(refused, 0.0).retryable


def test_resolve_uses_litellm_to_place_the_provider(monkeypatch):
    litellm = load_litellm()
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-test")
    monkeypatch.delenv("OPENROUTER_API_BASE", raising=False)
    target = openai_compat.resolve(litellm, "openrouter/anthropic/claude-sonnet-4.6")
    assert target is not None
    assert target.url == "https://openrouter.ai/api/v1/chat/completions"
    assert target.model == "anthropic/claude-sonnet-4.6"
    assert target.headers["authorization"] == "Bearer sk-or-test"
    monkeypatch.setenv("OPENROUTER_API_BASE", "http://127.0.0.1:9/api/v1/")
    assert openai_compat.resolve(litellm, "openrouter/x/y").url == "http://127.0.0.1:9/api/v1/chat/completions"
    mock = openai_compat.resolve(litellm, "openai/qwen/qwen3.6-plus", "http://127.0.0.1:9/v1", "mock")
    assert mock is not None and mock.model == "qwen/qwen3.6-plus"
    assert mock.headers["authorization"] == "Bearer mock"
    # providers LiteLLM must translate for stay with LiteLLM
    assert openai_compat.resolve(litellm, "anthropic/claude-sonnet-4-5") is None
    assert openai_compat.resolve(litellm, "gemini/gemini-2.5-flash") is None


def _json(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(obj, status=status, headers=headers)
