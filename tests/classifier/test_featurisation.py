"""Featurisation of the three API shapes and of a bare prompt."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from classifier.errors import RequestError
from classifier.features import Featuriser, clip_text, hashed_words, instruction_text, parse_request

TOOLS = [{"type": "function", "function": {"name": "run", "parameters": {}}}]

SHAPES = {
    "prompt": {"prompt": "Fix the failing login test"},
    "chat": {
        "messages": [
            {"role": "system", "content": "You are a coding agent."},
            {"role": "user", "content": "Write a CSV parser"},
            {"role": "assistant", "content": None, "tool_calls": [{"id": "1", "type": "function"}]},
            {"role": "tool", "tool_call_id": "1", "content": "ok"},
            {"role": "user", "content": [{"type": "text", "text": "Fix the failing login test"}]},
        ],
        "tools": TOOLS,
        "mode": "Debug",
    },
    "responses_string": {"input": "Fix the failing login test", "instructions": "Be brief."},
    "responses_items": {
        "instructions": "You are a coding agent.",
        "input": [
            {"role": "user", "content": [{"type": "input_text", "text": "Write a CSV parser"}]},
            {"type": "function_call", "call_id": "c1", "name": "run", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "done"},
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "Fix the failing login test"}],
            },
        ],
        "tools": TOOLS,
    },
    "anthropic": {
        "system": [{"type": "text", "text": "You are a coding agent."}],
        "messages": [
            {"role": "user", "content": "Write a CSV parser"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "run", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}]},
            {"role": "user", "content": [{"type": "text", "text": "Fix the failing login test"}]},
        ],
        "tools": TOOLS,
    },
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_every_shape_finds_the_latest_user_turn(shape):
    s = parse_request(SHAPES[shape])
    assert s.latest_user == "Fix the failing login test"


@pytest.mark.parametrize(
    ("shape", "first", "system", "turns", "tools", "results", "mode"),
    [
        ("prompt", "Fix the failing login test", "", 1, 0, 0, None),
        ("chat", "Write a CSV parser", "You are a coding agent.", 2, 1, 1, "debug"),
        ("responses_string", "Fix the failing login test", "Be brief.", 1, 0, 0, None),
        ("responses_items", "Write a CSV parser", "You are a coding agent.", 2, 1, 1, None),
        ("anthropic", "Write a CSV parser", "You are a coding agent.", 2, 1, 1, None),
    ],
)
def test_session_structure(shape, first, system, turns, tools, results, mode):
    s = parse_request(SHAPES[shape])
    assert (s.first_user, s.system, s.n_user_turns) == (first, system, turns)
    assert (s.n_tools, s.n_tool_results, s.mode) == (tools, results, mode)


def test_anthropic_tool_result_is_not_a_user_turn():
    req = {
        "messages": [
            {"role": "user", "content": "Run the test suite"},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "x", "content": "3 failed"}]},
        ]
    }
    s = parse_request(req)
    assert s.latest_user == "Run the test suite"
    assert s.n_user_turns == 1 and s.n_tool_results == 1


def test_prompt_and_one_turn_chat_featurise_identically():
    f = Featuriser()
    a = f({"prompt": "Explain this regex: ^a+$"})
    b = f({"messages": [{"role": "user", "content": "Explain this regex: ^a+$"}]})
    assert a.texts == b.texts
    np.testing.assert_array_equal(a.numeric, b.numeric)


def test_texts_carry_context_only_for_sessions():
    f = Featuriser()
    assert f(SHAPES["prompt"]).texts[1] == ""
    assert f(SHAPES["chat"]).texts[1] == "Write a CSV parser"  # the first task; no system boilerplate
    with_system = Featuriser(system_prefix_chars=300)(SHAPES["chat"]).texts[1]
    assert "You are a coding agent." in with_system and "Write a CSV parser" in with_system


def test_environment_details_are_stripped():
    s = parse_request({"prompt": "<task>add a flag</task>\n<environment_details>\nfiles: a.py\n</environment_details>"})
    assert s.latest_user == "<task>add a flag</task>"


def test_numeric_vector_signals():
    f = Featuriser(bow_dim=0)
    names = f.numeric_names
    v = dict(zip(names, f(SHAPES["chat"]).numeric, strict=True))
    assert v["tools_offered"] == 1.0 and v["tool_results"] == 1.0 and v["has_system"] == 1.0
    assert v["mode_debug"] == 1.0 and v["mode_set"] == 1.0 and v["mode_other"] == 0.0
    assert v["log_messages"] == pytest.approx(math.log1p(5))
    code = f({"prompt": "Why?\n```python\ndef f():\n    return 1\n```\nTraceback: KeyError"})
    w = dict(zip(names, code.numeric, strict=True))
    assert w["log_code_blocks"] == pytest.approx(math.log1p(1))
    assert w["error_marker"] == 1.0 and w["code_line_share"] > 0
    other = dict(zip(names, f({"prompt": "hi", "mode": "title"}).numeric, strict=True))
    assert other["mode_other"] == 1.0


def test_instruction_drops_code_and_bow_is_stable():
    text = "Please make this faster:\n```python\nfor i in range(10):\n    total += i\n```"
    assert instruction_text(text) == "Please make this faster:"
    a, b = hashed_words("fix the bug", 64), hashed_words("fix the bug", 64)
    np.testing.assert_array_equal(a, b)
    assert a.sum() == 5  # 3 words + 2 bigrams (no collisions at this size for these)


def test_clip_keeps_head_and_tail():
    text = "A" * 3000 + "END"
    out = clip_text(text, 1000)
    assert len(out) < 1100 and out.startswith("A") and out.endswith("END")


@pytest.mark.parametrize(
    "request_", [{}, {"messages": []}, {"prompt": "   "}, {"messages": [{"role": "assistant", "content": "hi"}]}, "x"]
)
def test_requests_without_user_text_raise(request_):
    with pytest.raises(RequestError):
        parse_request(request_)


def test_config_round_trip():
    f = Featuriser(max_chars=500, bow_dim=16, modes=("code",))
    g = Featuriser.from_config(f.config())
    assert g.config() == f.config() and g.numeric_names == f.numeric_names


@settings(max_examples=60, deadline=None)
@given(st.text(min_size=1, max_size=400).filter(lambda t: t.strip()), st.sampled_from([None, "code", "x"]))
def test_any_prompt_gives_finite_vector_of_fixed_size(text, mode):
    f = Featuriser(bow_dim=32)
    req = {"prompt": text} if mode is None else {"prompt": text, "mode": mode}
    feats = f(req)
    assert feats.numeric.shape == (len(f.numeric_names),)
    assert np.isfinite(feats.numeric).all()


def test_instruction_embedding_is_on_by_default_and_optional():
    req = {"prompt": "Please make this faster:\n```python\nfor i in range(10):\n    total += i\n```"}
    assert Featuriser()(req).texts[2] == "Please make this faster:"
    assert Featuriser(instruction_embedding=False)(req).texts[2] == ""
    assert Featuriser()({"prompt": "plain prose"}).texts[2] == ""
