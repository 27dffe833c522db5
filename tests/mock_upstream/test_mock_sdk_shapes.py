"""Each API shape, streaming and not, read by the official openai and anthropic SDKs."""

from __future__ import annotations

import json

import anthropic
import httpx
import openai
import pytest

from tests.support.mock_control import MockUpstreamHandle

WEATHER_SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                  "required": ["city", "days"]}
CHAT_TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": WEATHER_SCHEMA}}]


@pytest.fixture
def oai(mock_upstream: MockUpstreamHandle) -> openai.OpenAI:
    return openai.OpenAI(base_url=mock_upstream.openai_base, api_key="x", max_retries=0)


@pytest.fixture
def claude(mock_upstream: MockUpstreamHandle) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=mock_upstream.url, api_key="x", max_retries=0)


def test_chat_reply_names_the_model_and_quotes_the_prompt(oai: openai.OpenAI) -> None:
    prompt = "Explain the difference between a list and a tuple in Python, briefly."
    done = oai.chat.completions.create(model="vendor/model-a", messages=[{"role": "user", "content": prompt}])
    assert done.model == "vendor/model-a"
    assert done.choices[0].message.content == f"[mock vendor/model-a] {prompt[:40]}"
    assert done.choices[0].finish_reason == "stop"
    assert done.usage is not None and done.usage.prompt_tokens == len(prompt) // 4
    assert done.usage.total_tokens == done.usage.prompt_tokens + done.usage.completion_tokens


def test_chat_stream_ends_with_usage_when_asked(oai: openai.OpenAI) -> None:
    stream = oai.chat.completions.create(model="m", stream=True, stream_options={"include_usage": True},
                                         messages=[{"role": "user", "content": "hello stream"}])
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "[mock m] hello stream"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"


def test_chat_stream_without_usage_option_has_no_usage_chunk(mock_upstream: MockUpstreamHandle) -> None:
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    raw = httpx.post(mock_upstream.openai_base + "/chat/completions", json=body).text
    events = [e.removeprefix("data: ") for e in raw.strip().split("\n\n")]
    assert events[-1] == "[DONE]"
    assert all("usage" not in json.loads(e) for e in events[:-1])


def test_chat_tool_round_trip(oai: openai.OpenAI) -> None:
    messages: list[dict] = [{"role": "user", "content": "Please use a tool to get the weather"}]
    first = oai.chat.completions.create(model="m", messages=messages, tools=CHAT_TOOLS)
    call = first.choices[0].message.tool_calls[0]
    assert first.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {"city": "mock", "days": 1}
    messages += [first.choices[0].message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": "sunny"}]
    second = oai.chat.completions.create(model="m", messages=messages, tools=CHAT_TOOLS)
    assert second.choices[0].message.content == "[mock m] tool result: sunny"


def test_chat_tool_call_streams(oai: openai.OpenAI) -> None:
    stream = oai.chat.completions.create(model="m", stream=True, tools=CHAT_TOOLS,
                                         messages=[{"role": "user", "content": "use a tool"}])
    deltas = [c.choices[0].delta for c in stream if c.choices]
    args = "".join(tc.function.arguments or "" for d in deltas for tc in d.tool_calls or [])
    assert deltas[0].tool_calls[0].function.name == "get_weather"
    assert json.loads(args) == {"city": "mock", "days": 1}


def test_without_tools_the_trigger_phrase_gets_text(oai: openai.OpenAI) -> None:
    done = oai.chat.completions.create(model="m", messages=[{"role": "user", "content": "use a tool"}])
    assert done.choices[0].message.content == "[mock m] use a tool"


def test_responses_non_streaming(oai: openai.OpenAI) -> None:
    done = oai.responses.create(model="r-model", input="hello responses", instructions="be brief")
    assert done.model == "r-model" and done.status == "completed"
    assert done.output_text == "[mock r-model] hello responses"
    assert done.usage is not None and done.usage.total_tokens > 0 and done.instructions == "be brief"


def test_responses_stream_uses_the_real_event_names(oai: openai.OpenAI) -> None:
    events = list(oai.responses.create(model="r", stream=True, input=[
        {"role": "user", "content": [{"type": "input_text", "text": "stream me"}]}]))
    kinds = [e.type for e in events]
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    for kind in ("response.output_item.added", "response.content_part.added", "response.output_text.delta",
                 "response.output_text.done", "response.content_part.done", "response.output_item.done"):
        assert kind in kinds
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == "[mock r] stream me"
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert events[-1].response.usage is not None


def test_responses_tool_call_and_result(oai: openai.OpenAI) -> None:
    tools = [{"type": "function", "name": "get_weather", "parameters": WEATHER_SCHEMA}]
    first = oai.responses.create(model="r", input="use a tool please", tools=tools)
    call = first.output[0]
    assert call.type == "function_call" and call.name == "get_weather"
    second = oai.responses.create(model="r", tools=tools, input=[
        {"role": "user", "content": "use a tool please"}, call.model_dump(exclude_none=True),
        {"type": "function_call_output", "call_id": call.call_id, "output": "rainy"}])
    assert second.output_text == "[mock r] tool result: rainy"
    streamed = list(oai.responses.create(model="r", input="use a tool", tools=tools, stream=True))
    assert "response.function_call_arguments.done" in [e.type for e in streamed]


def test_messages_non_streaming(claude: anthropic.Anthropic) -> None:
    done = claude.messages.create(model="claude-x", max_tokens=50, system="sys",
                                  messages=[{"role": "user", "content": "hello claude"}])
    assert done.model == "claude-x" and done.stop_reason == "end_turn"
    assert done.content[0].text == "[mock claude-x] hello claude"
    assert done.usage.input_tokens > 0 and done.usage.output_tokens > 0


def test_messages_stream_event_sequence(claude: anthropic.Anthropic) -> None:
    with claude.messages.stream(model="claude-x", max_tokens=50,
                                messages=[{"role": "user", "content": [{"type": "text", "text": "hi"}]}]) as stream:
        kinds = [e.type for e in stream]
        final = stream.get_final_message()
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    for kind in ("content_block_start", "content_block_delta", "content_block_stop", "message_delta"):
        assert kind in kinds
    assert final.content[0].text == "[mock claude-x] hi" and final.usage.output_tokens > 1


def test_messages_tool_use_round_trip(claude: anthropic.Anthropic) -> None:
    tools = [{"name": "get_weather", "description": "weather", "input_schema": WEATHER_SCHEMA}]
    first = claude.messages.create(model="c", max_tokens=50, tools=tools,
                                   messages=[{"role": "user", "content": "use a tool"}])
    block = first.content[0]
    assert first.stop_reason == "tool_use" and block.type == "tool_use"
    assert block.input == {"city": "mock", "days": 1}
    second = claude.messages.create(model="c", max_tokens=50, tools=tools, messages=[
        {"role": "user", "content": "use a tool"},
        {"role": "assistant", "content": [block.model_dump()]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": block.id, "content": "windy"}]}])
    assert second.content[0].text == "[mock c] tool result: windy"
    with claude.messages.stream(model="c", max_tokens=50, tools=tools,
                                messages=[{"role": "user", "content": "use a tool"}]) as stream:
        assert stream.get_final_message().content[0].input == {"city": "mock", "days": 1}


def test_models_lists_configured_and_seen_models(mock_upstream: MockUpstreamHandle, oai: openai.OpenAI) -> None:
    mock_upstream.configure({"models": {"listed": {}, "gone": {"unavailable": True}, "pat-*": {}}})
    oai.chat.completions.create(model="seen", messages=[{"role": "user", "content": "x"}])
    assert [m.id for m in oai.models.list()] == ["listed", "seen"]
    page = anthropic.Anthropic(base_url=mock_upstream.url, api_key="x").models.list()
    assert [m.id for m in page.data] == ["listed", "seen"]
