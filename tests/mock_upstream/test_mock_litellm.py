"""LiteLLM (the gateway's provider layer) parses every shape the mock serves.

LiteLLM 1.106.2 imports the optional `mcp` package on every `aresponses()` call and on
`acompletion()` with tools, and `orjson` when streaming `anthropic.messages.acreate()`; where
those are missing the call itself is skipped (with the reason) and LiteLLM's own parser is
checked against the mock's bytes instead.
"""

from __future__ import annotations

import importlib.util
import json
import os
from typing import Any
from unittest.mock import MagicMock

import httpx
import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
litellm = pytest.importorskip("litellm")
litellm.suppress_debug_info = True

from litellm.exceptions import MidStreamFallbackError  # noqa: E402

from tests.support.mock_control import MockUpstreamHandle  # noqa: E402

HAS_MCP = importlib.util.find_spec("mcp") is not None
HAS_ORJSON = importlib.util.find_spec("orjson") is not None
USER = [{"role": "user", "content": "hello litellm"}]
pytestmark = [pytest.mark.anyio, pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.filterwarnings("ignore:.*ReadOnly.*:UserWarning")]


async def test_acompletion_non_streaming(mock_upstream: MockUpstreamHandle) -> None:
    done = await litellm.acompletion(model="openai/tier/model-a", api_base=mock_upstream.openai_base,
                                     api_key="x", messages=USER)
    assert done.choices[0].message.content == "[mock tier/model-a] hello litellm"
    assert done.usage.prompt_tokens == 3 and done.usage.completion_tokens > 0
    assert mock_upstream.stats()["models"]["tier/model-a"]["by_api"]["chat"] == 1


async def test_acompletion_streaming_with_usage(mock_upstream: MockUpstreamHandle) -> None:
    stream = await litellm.acompletion(model="openai/m", api_base=mock_upstream.openai_base, api_key="x",
                                       messages=USER, stream=True, stream_options={"include_usage": True})
    text, usage = [], None
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            text.append(chunk.choices[0].delta.content)
        usage = getattr(chunk, "usage", None) or usage
    assert "".join(text) == "[mock m] hello litellm"
    assert usage is not None and usage.total_tokens > 0


async def test_acompletion_passes_injected_params_through(mock_upstream: MockUpstreamHandle) -> None:
    await litellm.acompletion(model="openai/m", api_base=mock_upstream.openai_base, api_key="x", messages=USER,
                              reasoning_effort="high", extra_headers={"x-autotier-test": "1"})
    assert mock_upstream.last_request("m")["reasoning_effort"] == "high"
    assert mock_upstream.stats()["models"]["m"]["last_headers"]["x-autotier-test"] == "1"


async def test_acompletion_tool_call(mock_upstream: MockUpstreamHandle) -> None:
    tools = [{"type": "function", "function": {"name": "read_file", "parameters": {
        "type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}}}]
    extra: dict[str, Any] = {} if HAS_MCP else {"_skip_mcp_handler": True}
    done = await litellm.acompletion(model="openai/m", api_base=mock_upstream.openai_base, api_key="x",
                                     tools=tools, messages=[{"role": "user", "content": "use a tool"}], **extra)
    call = done.choices[0].message.tool_calls[0]
    assert call.function.name == "read_file" and json.loads(call.function.arguments) == {"path": "mock"}


@pytest.mark.parametrize("stream", [False, True])
async def test_acompletion_anthropic_provider(mock_upstream: MockUpstreamHandle, stream: bool) -> None:
    result = await litellm.acompletion(model="anthropic/claude-m", api_base=mock_upstream.url, api_key="x",
                                       messages=USER, stream=stream)
    if stream:
        text = "".join([c.choices[0].delta.content or "" async for c in result if c.choices])
    else:
        text = result.choices[0].message.content
        assert result.usage.completion_tokens > 0
    assert text == "[mock claude-m] hello litellm"
    assert mock_upstream.stats()["models"]["claude-m"]["by_api"]["messages"] == 1


async def test_anthropic_messages_acreate(mock_upstream: MockUpstreamHandle) -> None:
    done = await litellm.anthropic.messages.acreate(model="anthropic/claude-m", api_base=mock_upstream.url,
                                                    api_key="x", max_tokens=64, messages=USER)
    assert done["content"][0]["text"] == "[mock claude-m] hello litellm"
    assert done["usage"]["output_tokens"] > 0


@pytest.mark.skipif(
    not (HAS_ORJSON and importlib.util.find_spec("soundfile")),
    reason="litellm 1.106.2 streams anthropic.messages through its proxy pass-through module, "
    "which needs orjson and soundfile (an audio library autotier does not depend on)",
)
async def test_anthropic_messages_acreate_streaming(mock_upstream: MockUpstreamHandle) -> None:
    stream = await litellm.anthropic.messages.acreate(model="anthropic/claude-m", api_base=mock_upstream.url,
                                                      api_key="x", max_tokens=64, messages=USER, stream=True)
    raw = b"".join([c if isinstance(c, bytes) else json.dumps(c).encode() async for c in stream])
    events = [json.loads(line[6:]) for line in raw.decode().splitlines() if line.startswith("data: ")]
    text = "".join(e["delta"].get("text", "") for e in events if e["type"] == "content_block_delta")
    assert events[-1]["type"] == "message_stop" and text == "[mock claude-m] hello litellm"


@pytest.mark.skipif(not HAS_MCP, reason="litellm 1.106.2 imports the `mcp` package on every aresponses() call")
@pytest.mark.parametrize("stream", [False, True])
async def test_aresponses(mock_upstream: MockUpstreamHandle, stream: bool) -> None:
    result = await litellm.aresponses(model="openai/r", api_base=mock_upstream.openai_base, api_key="x",
                                      input="hello litellm", stream=stream)
    if stream:
        events = [e async for e in result]
        text = "".join(getattr(e, "delta", "") or "" for e in events if getattr(e.type, "value", e.type) == "response.output_text.delta")
    else:
        text = result.output[0].content[0].text
    assert text == "[mock r] hello litellm"


def test_litellm_responses_parser_reads_the_mock(mock_upstream: MockUpstreamHandle) -> None:
    from litellm.llms.openai.responses.transformation import OpenAIResponsesAPIConfig

    parser, log = OpenAIResponsesAPIConfig(), MagicMock()
    body = {"model": "r", "input": "hello litellm"}
    raw = httpx.post(mock_upstream.openai_base + "/responses", json=body)
    parsed = parser.transform_response_api_response("r", raw, log)
    assert parsed.output[0].content[0].text == "[mock r] hello litellm" and parsed.usage.output_tokens > 0
    sse = httpx.post(mock_upstream.openai_base + "/responses", json={**body, "stream": True}).text
    events = [parser.transform_streaming_response("r", json.loads(line[6:]), log)
              for line in sse.splitlines() if line.startswith("data: ")]
    assert events[-1].type == "response.completed"
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == "[mock r] hello litellm"


@pytest.mark.parametrize(("provider", "suffix"), [("openai", "/v1"), ("anthropic", "")])
async def test_faults_map_to_litellm_exceptions(mock_upstream: MockUpstreamHandle, provider: str, suffix: str) -> None:
    mock_upstream.configure({"models": {"busy": {"error_rate": 1, "error_status": 429, "retry_after_s": 4},
                                        "gone": {"unavailable": True}, "cut": {"cut_mid_stream_after": 2}}})
    call = {"api_base": mock_upstream.url + suffix, "api_key": "x", "messages": USER, "max_retries": 0}
    with pytest.raises(litellm.RateLimitError) as caught:
        await litellm.acompletion(model=f"{provider}/busy", **call)
    assert caught.value.litellm_response_headers["retry-after"] == "4"
    with pytest.raises(litellm.NotFoundError):
        await litellm.acompletion(model=f"{provider}/gone", **call)
    stream = await litellm.acompletion(model=f"{provider}/cut", stream=True, **call)
    with pytest.raises(MidStreamFallbackError):  # a ServiceUnavailableError subclass
        async for _ in stream:
            pass
