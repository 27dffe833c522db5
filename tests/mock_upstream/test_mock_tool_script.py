"""`tool_script`: the mock answers an agent's turns with scripted tool calls, then text."""

from __future__ import annotations

import httpx
import pytest

from router.mock_upstream.config import MockConfig, MockConfigError
from router.mock_upstream.replies import plan_reply
from router.mock_upstream.server import MockServer

SCRIPT = MockConfig.from_dict({"default": {"tool_script": [
    {"name": "read", "arguments": {"filePath": "a.py"}},
    {"name": "missing_tool"},
    {"name": "bash"},
]}}).default.tool_script
CHAT_TOOLS = [{"type": "function", "function": {"name": n, "parameters": {
    "type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}}} for n in ("read", "bash")]


def chat_body(results: int, user_after: bool = False) -> dict:
    messages = [{"role": "system", "content": "agent"}, {"role": "user", "content": "fix it"}]
    for i in range(results):
        messages += [{"role": "assistant", "content": None, "tool_calls": [{"id": f"c{i}", "type": "function",
                                                                             "function": {"name": "x", "arguments": "{}"}}]},
                     {"role": "tool", "tool_call_id": f"c{i}", "content": "ok"}]
    if user_after:
        messages.append({"role": "user", "content": "now the tests"})
    return {"model": "m", "messages": messages, "tools": CHAT_TOOLS}


@pytest.mark.parametrize(("results", "user_after", "expected"), [
    (0, False, ("read", {"filePath": "a.py"})),
    (1, False, ("bash", {"command": "mock"})),  # missing_tool is not offered: skipped; args from the schema
    (2, False, None),  # script done: text
    (2, True, ("read", {"filePath": "a.py"})),  # a new user turn starts the script again
])
def test_chat_turns_follow_the_script(results, user_after, expected):
    reply = plan_reply("chat", "m", chat_body(results, user_after), 1, SCRIPT)
    got = (reply.tool_call.name, reply.tool_call.arguments) if reply.tool_call else None
    assert got == expected
    if expected is None:
        assert reply.text.startswith("[mock m] tool result")


def test_messages_and_responses_count_their_own_result_items():
    tools = [{"name": "read", "input_schema": {}}, {"name": "bash", "input_schema": {}}]
    messages = {"model": "m", "tools": tools, "messages": [
        {"role": "user", "content": [{"type": "text", "text": "fix it"}]},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "read", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "ok"}]}]}
    assert plan_reply("messages", "m", messages, 1, SCRIPT).tool_call.name == "bash"
    responses = {"model": "m", "tools": [{"type": "function", "name": "read"}], "input": [
        {"role": "user", "content": "fix it"},
        {"type": "function_call", "call_id": "c", "name": "read", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c", "output": "ok"}]}
    assert plan_reply("responses", "m", responses, 1, SCRIPT).tool_call is None  # only read offered, used once


def test_without_a_script_the_default_behaviour_is_unchanged():
    assert plan_reply("chat", "m", chat_body(0), 1).tool_call is None
    assert plan_reply("chat", "m", {**chat_body(0), "messages": [{"role": "user", "content": "use a tool"}]},
                      1).tool_call.name == "read"
    assert MockConfig().default.tool_script == ()


def test_a_bad_script_names_the_key():
    with pytest.raises(MockConfigError, match="tool_script"):
        MockConfig.from_dict({"default": {"tool_script": [{"arguments": {}}]}})


def test_the_running_mock_streams_scripted_calls():
    with MockServer(MockConfig.from_dict({"models": {"agent": {"tool_script": [{"name": "bash"}]}}})) as mock:
        body = {**chat_body(0), "model": "agent"}
        first = httpx.post(mock.url + "/v1/chat/completions", json=body, timeout=10).json()
        call = first["choices"][0]["message"]["tool_calls"][0]["function"]
        assert call["name"] == "bash" and first["choices"][0]["finish_reason"] == "tool_calls"
        other = httpx.post(mock.url + "/v1/chat/completions", json={**body, "model": "plain"}, timeout=10).json()
        assert other["choices"][0]["finish_reason"] == "stop"  # models without a script: unchanged
