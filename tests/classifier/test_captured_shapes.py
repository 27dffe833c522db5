"""The user's own text, the first task, the mode and the tool activity, found in every
request the real Kilo CLI sent (data/shapes/, captured by training/capture_shapes.py):
first turns, agent steps after tool results, follow-up turns, on chat completions,
Anthropic Messages and OpenAI Responses."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from classifier import load
from classifier.features import Featuriser, parse_request
from classifier.session import KIND_NAMES
from training.shape_fixtures import read_fixtures

FIXTURES = read_fixtures()
CASES = [(name, i) for name, f in FIXTURES.items() for i in range(len(f["requests"]))]


def request_of(name: str, i: int) -> tuple[dict, dict, dict]:
    fixture = FIXTURES[name]
    req = fixture["requests"][i]
    return fixture, req, {**req["body"], "mode": req["headers"]["x-kilocode-mode"]}


def test_every_api_and_mode_was_captured():
    assert {f["api"] for f in FIXTURES.values()} == {"chat", "messages", "responses"}
    assert {f["agent"] for f in FIXTURES.values() if f["api"] == "chat"} >= {"code", "debug", "plan", "ask",
                                                                             "orchestrator"}
    for f in FIXTURES.values():  # first turns, steps after tool results, and follow-up turns
        steps = {(r["turn"], r["step"] > 0) for r in f["requests"]}
        assert {(0, False), (0, True), (1, False)} <= steps, f["session"]


@pytest.mark.parametrize(("name", "i"), CASES)
def test_the_users_own_text_is_found(name, i):
    fixture, req, request = request_of(name, i)
    s = parse_request(request)
    typed = fixture["turns"][req["turn"]]
    assert s.latest_user.strip('"') == typed  # `kilo run` quotes what was typed
    assert "<environment_details>" not in s.latest_user and "<system-reminder>" not in s.latest_user
    assert s.first_user.strip('"') == fixture["turns"][0]
    assert s.n_user_turns == req["turn"] + 1
    assert s.mode == fixture["agent"]
    assert s.n_tools == len(req["body"]["tools"]) > 0
    assert len(s.system) > 1000 and "Kilo" in s.system
    assert s.steps_since_user == req["step"]  # tool results since the user's latest turn
    assert sum(s.tool_calls) >= req["step"]


def test_tool_activity_is_counted_by_kind():
    fixture = FIXTURES["chat-code"]
    last = fixture["requests"][-1]
    s = parse_request(last["body"])
    calls = dict(zip(KIND_NAMES, s.tool_calls, strict=True))
    assert calls["run"] == 4 and calls["read"] == 4 and calls["edit"] == calls["web"] == 0  # bash x2, read x2 a turn
    v = dict(zip(Featuriser(bow_dim=0).numeric_names, Featuriser(bow_dim=0)(last["body"]).numeric, strict=True))
    assert v["tool_share_run"] == pytest.approx(0.5) and v["working_on_latest"] == 1.0
    assert v["log_steps_since_user"] == pytest.approx(np.log1p(last["step"]))


def test_responses_with_instructions_and_messages_with_system_blocks():
    _, req, request = request_of("responses-code", 7)
    items = request["input"]
    system_item = next(it for it in items if it.get("role") in ("system", "developer"))
    system_text = system_item["content"] if isinstance(system_item["content"], str) else system_item["content"][0][
        "text"]
    moved = {**request, "instructions": system_text, "input": [it for it in items if it is not system_item]}
    a, b = parse_request(request), parse_request(moved)
    assert a.latest_user == b.latest_user and a.system[:500] == b.system[:500]
    assert (a.n_tool_results, a.steps_since_user, a.tool_calls) == (b.n_tool_results, b.steps_since_user, b.tool_calls)
    _, _, messages = request_of("messages-code", 3)
    assert isinstance(messages["system"], list) and parse_request(messages).n_tool_results == 3


def test_a_user_turn_of_only_injected_blocks_is_not_the_users_text():
    _, _, request = request_of("chat-plan", 0)
    user = request["messages"][-1]
    assert any("<system-reminder>" in p["text"] for p in user["content"])  # the plan mode adds its rules
    only_injected = copy.deepcopy(request)
    only_injected["messages"][-1]["content"] = [p for p in user["content"] if p["text"].lstrip().startswith("<")]
    with pytest.raises(Exception, match="no user turn"):
        parse_request(only_injected)


def test_the_mode_is_a_learned_input():
    clf = load()
    names = clf.featuriser.numeric_names
    start = 3 * clf.embedder.dim
    cols = [start + names.index(f"mode_{m}") for m in ("ask", "debug", "plan")]
    assert np.abs(clf.heads.route.weight[:, cols]).max() > 0.01
    _, _, request = request_of("chat-code", 0)
    probs = {m: clf.predict({**request, "mode": m}).route_probs for m in ("code", "debug", "plan")}
    assert probs["code"] != probs["debug"] != probs["plan"]
    assert probs["plan"]["planning_design/technical_planning"] > probs["code"]["planning_design/technical_planning"]
