"""Reasoning from another model family is stripped; everything else stays, in order."""

from __future__ import annotations

import copy
import json

from hypothesis import given
from hypothesis import strategies as st

from router import ApiKind, strip_foreign_reasoning

CHAT = {"model": "m", "messages": [
    {"role": "system", "content": "be brief"},
    {"role": "user", "content": "fix it"},
    {"role": "assistant", "content": "looking", "reasoning": "hmm", "reasoning_content": "hmm",
     "reasoning_details": [{"type": "reasoning.encrypted", "data": "xx", "format": "anthropic-claude-v1"}],
     "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "read", "arguments": "{}"}}]},
    {"role": "tool", "tool_call_id": "c1", "content": "file body"},
    {"role": "assistant", "content": "done", "thinking_blocks": [{"type": "thinking", "thinking": "x", "signature": "s"}]},
    {"role": "user", "content": "thanks", "reasoning": "a user field named reasoning is not ours to touch"},
]}

MESSAGES = {"model": "m", "messages": [
    {"role": "user", "content": "why?"},
    {"role": "assistant", "content": [
        {"type": "thinking", "thinking": "let me see", "signature": "sig"},
        {"type": "redacted_thinking", "data": "opaque"},
        {"type": "text", "text": "because"},
        {"type": "tool_use", "id": "t1", "name": "grep", "input": {"q": "x"}},
    ]},
    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "hit"}]},
]}

RESPONSES = {"model": "m", "input": [
    {"role": "user", "content": "plan it"},
    {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAA"},
    {"type": "function_call", "call_id": "f1", "name": "ls", "arguments": "{}"},
    {"type": "function_call_output", "call_id": "f1", "output": "a b"},
    {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "ok"}]},
]}


def test_chat_strips_reasoning_fields_only():
    out = strip_foreign_reasoning(CHAT, ApiKind.CHAT, produced_by="claude", serving="gpt")
    assistant = out["messages"][2]
    assert set(assistant) == {"role", "content", "tool_calls"}
    assert out["messages"][4] == {"role": "assistant", "content": "done"}
    assert out["messages"][5] == CHAT["messages"][5]
    assert [m["role"] for m in out["messages"]] == [m["role"] for m in CHAT["messages"]]


def test_messages_strips_thinking_blocks_keeps_text_and_tools():
    out = strip_foreign_reasoning(MESSAGES, ApiKind.MESSAGES, produced_by="claude", serving="gpt")
    assert [b["type"] for b in out["messages"][1]["content"]] == ["text", "tool_use"]
    assert out["messages"][2] == MESSAGES["messages"][2]


def test_responses_strips_reasoning_items():
    out = strip_foreign_reasoning(RESPONSES, ApiKind.RESPONSES, produced_by="gpt", serving="claude")
    assert [i.get("type", "message") for i in out["input"]] == [
        "message", "function_call", "function_call_output", "message"]


def test_same_or_unknown_family_touches_nothing():
    for body, api in ((CHAT, ApiKind.CHAT), (MESSAGES, ApiKind.MESSAGES), (RESPONSES, ApiKind.RESPONSES)):
        assert strip_foreign_reasoning(body, api, "claude", "claude") is body
        assert strip_foreign_reasoning(body, api, None, "claude") is body


def test_input_is_not_mutated():
    before = copy.deepcopy(CHAT)
    strip_foreign_reasoning(CHAT, ApiKind.CHAT, "claude", "gpt")
    assert before == CHAT


def test_string_inputs_pass():
    body = {"input": "hello"}
    assert strip_foreign_reasoning(body, ApiKind.RESPONSES, "gpt", "claude") == body


# Property: stripping is idempotent and never drops non-reasoning content.
text = st.text(max_size=12)
chat_message = st.one_of(
    st.fixed_dictionaries({"role": st.just("user"), "content": text}),
    st.fixed_dictionaries({"role": st.just("assistant"), "content": text},
                          optional={"reasoning": text, "reasoning_content": text,
                                    "reasoning_details": st.lists(st.fixed_dictionaries({"type": text}), max_size=2),
                                    "tool_calls": st.lists(st.fixed_dictionaries({"id": text}), max_size=2)}),
    st.fixed_dictionaries({"role": st.just("tool"), "tool_call_id": text, "content": text}),
)
block = st.one_of(
    st.fixed_dictionaries({"type": st.just("text"), "text": text}),
    st.fixed_dictionaries({"type": st.just("thinking"), "thinking": text, "signature": text}),
    st.fixed_dictionaries({"type": st.just("redacted_thinking"), "data": text}),
    st.fixed_dictionaries({"type": st.just("tool_use"), "id": text, "name": text, "input": st.just({})}),
)
anthropic_message = st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant"]),
                                           "content": st.one_of(text, st.lists(block, max_size=4))})
item = st.one_of(
    st.fixed_dictionaries({"type": st.just("reasoning"), "encrypted_content": text}),
    st.fixed_dictionaries({"type": st.just("message"), "role": st.sampled_from(["user", "assistant"]), "content": text}),
    st.fixed_dictionaries({"type": st.just("function_call"), "call_id": text, "arguments": text}),
)
bodies = st.one_of(
    st.tuples(st.just(ApiKind.CHAT), st.fixed_dictionaries({"messages": st.lists(chat_message, max_size=6)})),
    st.tuples(st.just(ApiKind.MESSAGES), st.fixed_dictionaries({"messages": st.lists(anthropic_message, max_size=6)})),
    st.tuples(st.just(ApiKind.RESPONSES), st.fixed_dictionaries({"input": st.lists(item, max_size=6)})),
)
REASONING_KEYS = {"reasoning", "reasoning_content", "reasoning_details", "thinking_blocks"}
REASONING_TYPES = {"thinking", "redacted_thinking", "reasoning"}


def visible(body: dict) -> list:
    """Everything that is not reasoning, flattened in order."""
    out = []
    for entry in body.get("messages", body.get("input", [])):
        if entry.get("type") in REASONING_TYPES:
            continue
        kept = {k: v for k, v in entry.items() if not (entry.get("role") == "assistant" and k in REASONING_KEYS)}
        if isinstance(kept.get("content"), list) and entry.get("role") == "assistant":
            kept["content"] = [b for b in kept["content"] if b.get("type") not in REASONING_TYPES]
        out.append(json.dumps(kept, sort_keys=True))
    return out


@given(bodies)
def test_idempotent_and_lossless(api_body):
    api, body = api_body
    once = strip_foreign_reasoning(body, api, "claude", "gpt")
    assert strip_foreign_reasoning(once, api, "claude", "gpt") == once
    assert visible(once) == visible(body)
    flat = json.dumps(once)
    for entry in once.get("messages", once.get("input", [])):
        assert entry.get("type") != "reasoning"
        if entry.get("role") == "assistant":
            assert not REASONING_KEYS & set(entry)
            if isinstance(entry.get("content"), list):
                assert all(b["type"] not in {"thinking", "redacted_thinking"} for b in entry["content"])
    assert flat
