"""Wrap a plain prompt into a request shape captured from the real Kilo CLI.

    from training.shapes import SHAPES, wrap
    request = wrap("Add retry with backoff to the client", "chat_loop", mode="debug")
    classifier.load().predict(request)

`wrap(prompt, shape, *, mode=None, first_task=None, tool_turns=None) -> dict` returns a
fresh dict: the body the CLI sent (from the fixtures in data/shapes/, see
training/shape_fixtures.py) with the user's typed text replaced by `prompt`, plus a
`"mode"` key holding the CLI's `x-kilocode-mode` header value (the classifier reads it
from there; pop it before posting the body and send it as that header instead). The
original `x-kilocode-*` headers are in `headers_for(shape, mode)`.

Shapes (`SHAPES`):
- `plain`: `{"prompt": prompt}` (no mode key unless `mode` is given).
- `<api>_first`: the first request of a session: system prompt, 22 tools, the prompt as
  the only user turn followed by the CLI's `<environment_details>` block.
- `<api>_loop`: the prompt is the session's task and the agent has run `tool_turns`
  tool calls since (default 4): the last item is a tool result, no new user text. This
  is what the CLI sends on every step after the first.
- `<api>_mid`: a previous task (`first_task`, default the captured one) with its tool
  turns (`tool_turns`, default as captured: 4) and the agent's answer, then `prompt` as
  the new latest user turn.
`<api>` is `chat` (OpenAI chat completions, the CLI's default for Kilo models),
`messages` (Anthropic Messages: `system` blocks, `tool_use` / `tool_result` blocks) or
`responses` (OpenAI Responses: `instructions`, `input` items). Chat shapes exist for every
mode the fixtures hold (`MODES`); Messages and Responses were captured in `code` mode, and
another `mode` swaps in that mode's system prompt from the chat capture.

The CLI's `kilo run` quotes the typed text ("\"...\""); the IDE and TUI do not, so the
prompt replaces the whole quoted part, unquoted. Raises ValueError for an unknown shape or
mode, or an empty prompt. The fixtures are read once per process.
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any

from training.shape_fixtures import DEFAULT_DIR, read_fixtures

APIS = ("chat", "messages", "responses")
POSITIONS = ("first", "loop", "mid")
SHAPES = ("plain", *(f"{api}_{pos}" for api in APIS for pos in POSITIONS))
DEFAULT_MODE = "code"
DEFAULT_TOOL_TURNS = 4


@functools.cache
def _fixtures(folder: str) -> dict[str, dict[str, Any]]:
    found = read_fixtures(Path(folder))
    if not found:
        raise ValueError(f"no request-shape fixtures in {folder} (python -m training.capture_shapes)")
    return found


def _session(api: str, mode: str, folder: str) -> dict[str, Any]:
    sessions = [f for f in _fixtures(folder).values() if f["api"] == api]
    for f in sessions:
        if f["agent"] == mode:
            return f
    if api != "chat":
        for f in sessions:
            if f["agent"] == DEFAULT_MODE:
                return f
    raise ValueError(f"no captured {api} session in mode {mode!r}; have {sorted(_modes(folder))}")


def _items_key(api: str) -> str:
    return "input" if api == "responses" else "messages"


def _request(session: dict[str, Any], turn: int, step: int) -> dict[str, Any]:
    for req in session["requests"]:
        if req["turn"] == turn and req["step"] == step:
            return req
    raise ValueError(f"{session['session']}: no request for turn {turn} step {step}")


def _replace_text(value: Any, old: str, new: str) -> Any:
    """`value` with every string equal to `old` (or `"old"` quoted) replaced by `new`."""
    if isinstance(value, str):
        return new if value in (old, json.dumps(old)) else value
    if isinstance(value, list):
        return [_replace_text(v, old, new) for v in value]
    if isinstance(value, dict):
        return {k: _replace_text(v, old, new) for k, v in value.items()}
    return value


def _tool_steps(session: dict[str, Any], turn: int) -> list[list[Any]]:
    """The items each tool step of `turn` appended (assistant call + its result)."""
    key = _items_key(session["api"])
    reqs = sorted((r for r in session["requests"] if r["turn"] == turn), key=lambda r: r["step"])
    out = []
    for before, after in zip(reqs, reqs[1:], strict=False):
        out.append(after["body"][key][len(before["body"][key]):])
    return out


def _cycled_steps(session: dict[str, Any], turn: int, n: int) -> list[Any]:
    """`n` tool steps of `turn` (call + result items), cycling the captured ones."""
    steps = _tool_steps(session, turn)
    items: list[Any] = []
    for i in range(n if steps else 0):
        step = steps[i % len(steps)]
        if i >= len(steps):  # a repeated step gets fresh call ids
            step = json.loads(json.dumps(step).replace("call_mock", f"call_r{i}_mock"))
        items.extend(copy.deepcopy(step))
    return items


def _with_tool_turns(body: dict[str, Any], session: dict[str, Any], n: int) -> dict[str, Any]:
    """`body`, a request that holds turn 0's first request, with turn 0's tool steps
    (whatever it had) replaced by `n` steps."""
    key = _items_key(session["api"])
    start = len(_request(session, 0, 0)["body"][key])
    captured = sum(len(step) for step in _tool_steps(session, 0))
    items = body[key]
    if len(items) < start + captured:  # turn 0's first request itself: no steps yet
        captured = 0
    return {**body, key: items[:start] + _cycled_steps(session, 0, n) + items[start + captured:]}


def _swap_system(body: dict[str, Any], api: str, mode: str, folder: str) -> dict[str, Any]:
    """Messages/Responses captured in code mode: put `mode`'s chat system prompt in."""
    have = _system_text(_request(_session(api, DEFAULT_MODE, folder), 0, 0)["body"], api)
    want = _system_text(_request(_session("chat", mode, folder), 0, 0)["body"], "chat")
    return _replace_text(body, have, want) if have and want else body


def _system_text(body: dict[str, Any], api: str) -> str:
    if api == "responses":
        return body.get("instructions") or ""
    if api == "messages":
        system = body.get("system")
        blocks = system if isinstance(system, list) else [{"text": system or ""}]
        return max((b.get("text", "") for b in blocks if isinstance(b, dict)), key=len, default="")
    first = body["messages"][0]
    content = first.get("content")
    if isinstance(content, list):
        return max((b.get("text", "") for b in content if isinstance(b, dict)), key=len, default="")
    return content or ""


def wrap(prompt: str, shape: str = "chat_first", *, mode: str | None = None, first_task: str | None = None,
         tool_turns: int | None = None, folder: Path | None = None) -> dict[str, Any]:
    """`prompt` as the latest user text of a captured CLI request (see the module docstring)."""
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValueError("prompt must be a non-empty string")
    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}; one of {SHAPES}")
    if shape == "plain":
        return {"prompt": prompt, **({"mode": mode} if mode else {})}
    api, position = shape.split("_", 1)
    where = str(folder or DEFAULT_DIR)
    mode = mode or DEFAULT_MODE
    if mode not in _modes(where):
        raise ValueError(f"unknown mode {mode!r}; captured modes: {sorted(_modes(where))}")
    session = _session(api, mode, where)
    turns = session["turns"]
    if position == "mid":
        if len(turns) < 2:
            raise ValueError(f"{session['session']}: captured with one user turn, no mid-session request")
        body = copy.deepcopy(_request(session, 1, 0)["body"])
        body = _replace_text(body, turns[1], prompt)
        body = _replace_text(body, turns[0], first_task) if first_task else body
        if tool_turns is not None:
            body = _with_tool_turns(body, session, tool_turns)
    else:
        body = copy.deepcopy(_request(session, 0, 0)["body"])
        if position == "loop":
            body = _with_tool_turns(body, session, DEFAULT_TOOL_TURNS if tool_turns is None else tool_turns)
        body = _replace_text(body, turns[0], prompt)
    if session["agent"] != mode:
        body = _swap_system(body, api, mode, where)
    return {**body, "mode": mode}


def headers_for(shape: str, mode: str | None = None, folder: Path | None = None) -> dict[str, str]:
    """The headers the CLI sent with that shape's requests (ids replaced by placeholders)."""
    if shape == "plain":
        return {"x-kilocode-mode": mode} if mode else {}
    api = shape.split("_", 1)[0]
    session = _session(api, mode or DEFAULT_MODE, str(folder or DEFAULT_DIR))
    headers = dict(session["requests"][0]["headers"])
    if mode:
        headers["x-kilocode-mode"] = mode
    return headers


def _modes(folder: str) -> set[str]:
    return {f["agent"] for f in _fixtures(folder).values() if f["api"] == "chat"}


def __getattr__(name: str) -> Any:  # MODES reads the fixtures on first use, not at import
    if name == "MODES":
        return tuple(sorted(_modes(str(DEFAULT_DIR))))
    raise AttributeError(name)
