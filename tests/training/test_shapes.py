"""training.shapes.wrap (a plain prompt in a captured CLI shape), the shaped training and
validation views, and the fixtures' redaction."""

from __future__ import annotations

import json

import pytest

import training.shapes as shapes
from classifier.features import parse_request
from training.dataset import Example
from training.shape_fixtures import read_fixtures, redact, session_fixture
from training.shaped_data import MATCHED_MODE, VALIDATION_SHAPES, training_views, validation_sets
from training.shapes import SHAPES, wrap

PROMPT = "Why does load_config raise KeyError on an empty file?"


@pytest.mark.parametrize("shape", SHAPES)
def test_every_shape_keeps_the_prompt_as_the_users_latest_text(shape):
    request = wrap(PROMPT, shape, first_task="Set up the project")
    s = parse_request(request)
    assert s.latest_user == PROMPT
    if shape == "plain":
        assert request == {"prompt": PROMPT}
        return
    assert s.mode == "code" and s.n_tools >= 9 and len(s.system) > 1000
    if shape.endswith("_first"):
        assert (s.n_user_turns, s.n_tool_results) == (1, 0)
    elif shape.endswith("_loop"):
        assert s.first_user == PROMPT and s.steps_since_user == shapes.DEFAULT_TOOL_TURNS
    else:
        assert s.first_user == "Set up the project" and s.n_tool_results == 4 and s.steps_since_user == 0
    assert "17961" not in json.dumps(request)  # machine time stamps redacted in the fixtures


@pytest.mark.parametrize("mode", ["code", "debug", "plan", "ask", "orchestrator"])
def test_modes_pick_their_own_capture(mode):
    chat = wrap(PROMPT, "chat_first", mode=mode)
    assert chat["mode"] == mode and parse_request(chat).latest_user == PROMPT
    messages = wrap(PROMPT, "messages_loop", mode=mode)  # captured in code mode: the mode's system prompt
    assert parse_request(messages).latest_user == PROMPT and messages["mode"] == mode
    if mode != "code":
        assert messages["system"] != wrap(PROMPT, "messages_loop")["system"]


def test_tool_turns_and_fresh_copies():
    long = wrap(PROMPT, "chat_loop", tool_turns=20)
    assert parse_request(long).n_tool_results == 20
    ids = [c["id"] for m in long["messages"] for c in m.get("tool_calls") or []]
    assert len(ids) == len(set(ids)) == 20
    assert parse_request(wrap(PROMPT, "responses_mid", tool_turns=12)).n_tool_results == 12
    a = wrap(PROMPT, "chat_first")
    a["messages"].clear()
    assert wrap(PROMPT, "chat_first")["messages"]  # the fixture is not shared with callers


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="unknown shape"):
        wrap(PROMPT, "chat_second")
    with pytest.raises(ValueError, match="unknown mode"):
        wrap(PROMPT, "chat_first", mode="architect-x")
    with pytest.raises(ValueError, match="non-empty"):
        wrap("  ", "chat_first")
    assert shapes.headers_for("chat_first", "plan")["x-kilocode-mode"] == "plan"


def example(key: str, route_key: str, request: dict) -> Example:
    return Example("codechat", key, request, route_key, "low", "hand", "hand", "x:1")


def test_shaped_views_keep_labels_and_prompts():
    rows = [example(str(i), rk, {"prompt": f"prompt number {i}"}) for i, rk in enumerate(
        ["debugging/bug_fixing", "planning_design/technical_planning", "investigation/external_research"] * 4)]
    rows.append(example("f", "implementation/test_creation",
                        {"messages": [{"role": "user", "content": "write a parser"},
                                      {"role": "user", "content": "now the tests too"}]}))
    views = training_views(rows)
    assert len(views) == 2 * len(rows)
    for plain, shaped in zip(rows, views[len(rows):], strict=True):
        assert (shaped.route_key, shaped.difficulty) == (plain.route_key, plain.difficulty)
        s = parse_request(shaped.request)
        assert s.latest_user == parse_request(plain.request).latest_user and s.n_tools > 0
    follow_up = parse_request(views[-1].request)
    assert follow_up.first_user == "write a parser"  # a follow-up keeps its own first task
    val = validation_sets(rows, ["an earlier task"])
    assert set(val) == {*VALIDATION_SHAPES, "chat_first+mode"}
    assert all(len(v) == len(rows) for v in val.values())
    assert [parse_request(e.request).mode for e in val["chat_first+mode"]] == [
        MATCHED_MODE[e.task_type] for e in rows]


def test_redaction_removes_machine_specific_values():
    scratch = "/tmp/autotier-shapes-abc/chat-code"
    record = {"session": "chat-code", "model": "m", "agent": "code", "turns": ["hello"], "scratch": scratch,
              "requests": [{"path": "/api/openrouter/chat/completions",
                            "headers": {"X-KiloCode-TaskId": "ses_0123456789abcdef", "Authorization": "Bearer k",
                                        "x-kilocode-mode": "code"},
                            "body": {"model": "kilo-auto/frontier", "messages": [{"role": "user", "content": [
                                {"type": "text", "text": "hello"},
                                {"type": "text", "text": f"Working directory: {scratch}/workspace at "
                                                         "2026-12-02T02:10:11.123Z, plan 1796177927430.md"}]}]}}]}
    fixture = session_fixture(record)
    text = json.dumps(fixture)
    assert "/tmp/" not in text and "Bearer" not in text and "1796177927430" not in text
    assert fixture["requests"][0]["headers"] == {"x-kilocode-taskid": "ses_fixture", "x-kilocode-mode": "code"}
    assert redact("at 2026-12-02T02:10:11Z", []) == "at 2026-01-01T00:00:00Z"


def test_committed_fixtures_are_small_and_redacted():
    fixtures = read_fixtures()
    assert len(fixtures) >= 7
    text = json.dumps(fixtures)
    assert "/tmp/" not in text.replace("/tmp/kilo", "") and "/work/" not in text and "/root" not in text
    size = sum(p.stat().st_size for p in shapes.DEFAULT_DIR.glob("*.json.xz"))
    assert size < 400_000


@pytest.mark.slow
def test_capture_records_a_real_cli_session(tmp_path):
    """The real Kilo CLI against mock + gateway + recording proxy (needs npm; ~1 minute)."""
    import subprocess

    from training import capture_shapes

    try:
        capture_shapes.ensure_kilo()
    except (SystemExit, subprocess.SubprocessError, OSError) as exc:
        pytest.skip(f"cannot install the Kilo CLI: {exc}")
    session = next(s for s in capture_shapes.SESSIONS if s.name == "chat-ask")
    records = capture_shapes.capture([session])
    fixture = session_fixture(records[0])
    steps = [(r["turn"], r["step"]) for r in fixture["requests"]]
    assert (0, 0) in steps and (0, 1) in steps and (1, 0) in steps
    assert all(r["headers"]["x-kilocode-mode"] == "ask" for r in fixture["requests"])
    for req in fixture["requests"]:
        s = parse_request({**req["body"], "mode": "ask"})
        assert s.latest_user.strip('"') == session.turns[req["turn"]] and s.steps_since_user == req["step"]
