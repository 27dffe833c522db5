"""One request (any API shape) reduced to the parts the classifier looks at: a `Session`.

Accepted shapes (a dict):
- `{"prompt": str}`: a one-turn session (training rows take this path too);
- OpenAI chat: `messages` with roles system/developer/user/assistant/tool, assistant
  `tool_calls`;
- OpenAI Responses: `input` (a string or a list of items: messages, `function_call`,
  `function_call_output`) and optional `instructions`;
- Anthropic Messages: `system` (string or text blocks) and `messages` with content blocks
  (`text`, `tool_use`, `tool_result`).
Optional keys: `tools` (list), `mode` (the client's mode header, e.g. "code").

The user's own text: the latest user turn a person wrote. Tool results sent back as user
messages (Anthropic `tool_result` blocks) are not user turns, and the blocks clients add to
the user's message (`<environment_details>`: time, working directory; `<system-reminder>`:
the plan mode's rules) are not the user's text.

Cost is bounded whatever the request's size: messages are walked once, but only the first
and the latest user turns are joined, each cut to `max_chars` (head and tail) before any
regular expression sees it; every other message is only counted.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from classifier.errors import RequestError

# Blocks clients add to the user's message: workspace details (Kilo, Cline) and
# reminders of the agent's rules (Kilo's plan mode, Claude Code). Context, not the task.
_INJECTED = re.compile(r"<(environment_details|system-reminder)>.*?(?:</\1>|$)", re.S)
_INJECTED_START = re.compile(r"\s*<(?:environment_details|system-reminder)>")
MAX_PARTS = 64  # content parts read per message
WINDOW = 128  # messages / items read for the counts and the tool activity: the latest ones
_TEXT_BLOCK_TYPES = ("text", "input_text", "output_text")
_RESULT_TYPES = ("tool_result", "function_call_output", "custom_tool_call_output", "local_shell_call_output")
_CALL_TYPES = ("function_call", "custom_tool_call", "local_shell_call", "tool_use")
SYSTEM_CHARS = 2000  # system text kept: the featuriser uses a short prefix at most
PARSE_CHARS = 8000  # user text kept per turn (head + tail) before the featuriser clips further

# Tool kinds, tested in this order on the lowered tool name (first match wins).
TOOL_KINDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("plan", ("todo", "task", "plan", "skill", "board", "goal", "cron", "wakeup", "question", "recall")),
    ("web", ("web", "fetch", "browser", "http", "url")),
    ("run", ("bash", "shell", "exec", "terminal", "command", "process", "run")),
    ("edit", ("edit", "write", "patch", "replace", "insert", "create", "delete", "rename", "move")),
    ("read", ("read", "glob", "grep", "list", "ls", "search", "find", "view", "codebase", "lsp", "open")),
)
KIND_NAMES = tuple(k for k, _ in TOOL_KINDS) + ("other",)
KIND_INDEX = {k: i for i, k in enumerate(KIND_NAMES)}


@functools.lru_cache(maxsize=4096)
def tool_kind(name: str) -> str:
    """The kind of a tool by its name: plan, web, run, edit, read or other."""
    lowered = name.lower()
    for kind, needles in TOOL_KINDS:
        if any(n in lowered for n in needles):
            return kind
    return "other"


@dataclass(frozen=True)
class Session:
    """The parts of a request the classifier looks at.

    latest_user / first_user: at most PARSE_CHARS characters each (head and tail);
    latest_chars: the latest turn's full length. tool_calls: calls by kind (KIND_NAMES
    order). steps_since_user: tool results after the latest user turn (the agent's steps
    on it so far).
    """

    latest_user: str
    first_user: str
    system: str
    n_messages: int
    n_user_turns: int
    n_tools: int
    n_tool_results: int
    mode: str | None
    total_chars: int
    latest_chars: int = 0
    tool_calls: tuple[int, ...] = (0,) * len(KIND_NAMES)
    steps_since_user: int = 0


def clip_text(text: str, max_chars: int) -> str:
    """Keep the head and the tail of long text: instructions sit at either end."""
    if len(text) <= max_chars:
        return text
    tail = max_chars // 4
    return text[: max_chars - tail] + "\n...\n" + text[-tail:]


def _block_text(block: Any) -> str:
    if isinstance(block, str):
        return block
    if isinstance(block, dict):
        kind = block.get("type")
        if kind in _TEXT_BLOCK_TYPES or (kind is None and "text" in block):
            text = block.get("text")
            return text if isinstance(text, str) else ""
    return ""


def _content_text(content: Any, limit: int) -> str:
    """Visible text of a content value without environment-details parts, cut to `limit`."""
    if isinstance(content, str):
        text = content
    elif isinstance(content, dict):
        text = _block_text(content)
    elif isinstance(content, list):
        parts = [clip_text(p, limit) for p in map(_block_text, content[:MAX_PARTS]) if p and not _injected(p)]
        text = "\n".join(parts)
    else:
        return ""
    text = clip_text(text, limit)
    if "<environment_details>" in text or "<system-reminder>" in text:  # inline, in the same part
        text = _INJECTED.sub("", text)
    return text.strip()


def _injected(text: str) -> bool:
    return _INJECTED_START.match(text) is not None


def _length(content: Any) -> int:
    """Characters of a content value: strings, and the text or content of its blocks."""
    if isinstance(content, str):
        return len(content)
    if isinstance(content, list):
        total = 0
        for b in content[:MAX_PARTS]:
            if isinstance(b, str):
                total += len(b)
            elif isinstance(b, dict):
                v = b.get("text", b.get("content", b.get("output")))
                total += len(v) if isinstance(v, str) else 0
        return total
    return 0


def _has_user_text(content: Any) -> bool:
    """Whether a user message's content holds text a person wrote (no copies of the text)."""
    if isinstance(content, str):
        return bool(content) and not content.isspace() and not _injected(content)
    blocks = content[:MAX_PARTS] if isinstance(content, list) else [content]
    for b in blocks:
        text = _block_text(b)
        if text and not text.isspace() and not _injected(text):
            return True
    return False


def _messages_of(request: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    """(messages or items, system values) from whichever shape the request has."""
    systems = [request[k] for k in ("system", "instructions") if request.get(k)]
    if isinstance(request.get("messages"), list):
        return request["messages"], systems
    raw_input = request.get("input")
    if isinstance(raw_input, str):
        return [{"role": "user", "content": raw_input}], systems
    if isinstance(raw_input, list):
        return raw_input, systems
    prompt = request.get("prompt")
    if isinstance(prompt, str):
        return [{"role": "user", "content": prompt}], systems
    raise RequestError("request has no 'prompt', 'messages' or 'input' to classify")


def _scan(msg: dict[str, Any], calls: list[int]) -> tuple[int, int, bool]:
    """One pass over a message or item: (characters, tool results, holds user text?);
    the tool calls it makes are added to `calls` by kind."""
    kind = msg.get("type")
    if kind in _CALL_TYPES:
        calls[KIND_INDEX[tool_kind(str(msg.get("name") or kind))]] += 1
        args = msg.get("arguments", msg.get("input"))
        return (len(args) if isinstance(args, str) else 0), 0, False
    role = msg.get("role")
    content = msg.get("content", msg.get("output"))
    if kind in _RESULT_TYPES or role in ("tool", "function"):
        return _length(content), 1, False
    for call in msg.get("tool_calls") or ():
        if isinstance(call, dict):
            fn = call.get("function")
            name = fn.get("name") if isinstance(fn, dict) else call.get("name")
            calls[KIND_INDEX[tool_kind(str(name or "tool"))]] += 1
    if isinstance(content, str):
        return len(content), 0, role == "user" and bool(content) and not content.isspace() and not _injected(content)
    if not isinstance(content, list):
        return 0, 0, False
    chars = results = 0
    user_text = False
    for b in content[:MAX_PARTS]:
        if isinstance(b, str):
            chars += len(b)
            user_text = user_text or (role == "user" and bool(b) and not b.isspace() and not _injected(b))
            continue
        if not isinstance(b, dict):
            continue
        btype = b.get("type")
        if btype in _RESULT_TYPES:
            results += 1
            v = b.get("content", b.get("output"))
        elif btype == "tool_use":
            calls[KIND_INDEX[tool_kind(str(b.get("name") or "tool"))]] += 1
            continue
        else:
            v = b.get("text")
            if role == "user" and not user_text and isinstance(v, str) and v and not v.isspace() and not _injected(v):
                user_text = btype in _TEXT_BLOCK_TYPES or btype is None
        chars += len(v) if isinstance(v, str) else 0
    return chars, results, user_text


def _is_user_turn(msg: Any) -> bool:
    return isinstance(msg, dict) and msg.get("role") == "user" and _has_user_text(msg.get("content"))


def parse_request(request: dict[str, Any], max_chars: int = PARSE_CHARS) -> Session:
    """Reduce a request to a Session; raises RequestError when no user text is found.

    Reads the first user turn, the latest one, and the last WINDOW messages (counts, tool
    activity); a longer session costs no more than that.
    """
    if not isinstance(request, dict):
        raise RequestError(f"request must be a JSON object, got {type(request).__name__}")
    messages, system_values = _messages_of(request)
    systems = [_content_text(v, SYSTEM_CHARS) for v in system_values]
    total = sum(_length(v) for v in system_values)
    start = max(0, len(messages) - WINDOW)
    users: list[int] = []  # user turns with text, in the window
    calls = [0] * len(KIND_NAMES)
    results = since_user = 0
    for i in range(start, len(messages)):
        msg = messages[i]
        if not isinstance(msg, dict):
            continue
        chars, n_results, user_text = _scan(msg, calls)
        total += chars
        results += n_results
        since_user += n_results
        if user_text:
            users.append(i)
            since_user = 0
        elif msg.get("role") in ("system", "developer") and len(systems) < 4:
            systems.append(_content_text(msg.get("content"), SYSTEM_CHARS))
    if not users:  # the agent has run more than WINDOW steps since the user last wrote
        users = [next((i for i in range(start - 1, -1, -1) if _is_user_turn(messages[i])), -1)]
    first_i = next((i for i in range(start) if _is_user_turn(messages[i])), None)
    if first_i is not None and first_i not in users:
        users.insert(0, first_i)
    users = [i for i in users if i >= 0]
    latest = ""
    while users and not latest:  # a turn of only injected blocks has no text left
        latest = _content_text(messages[users[-1]].get("content"), max_chars)
        if not latest:
            users.pop()
    if not latest:
        raise RequestError("request has no user turn with text")
    first = _content_text(messages[users[0]].get("content"), max_chars) if len(users) > 1 else latest
    tools = request.get("tools")
    mode = request.get("mode")
    return Session(
        latest_user=latest,
        first_user=first or latest,
        system="\n".join(s for s in systems if s),
        n_messages=sum(1 for m in messages[start:] if isinstance(m, dict)) + start,
        n_user_turns=len(users),
        n_tools=len(tools) if isinstance(tools, list) else 0,
        n_tool_results=results,
        mode=mode.strip().lower() if isinstance(mode, str) and mode.strip() else None,
        total_chars=total,
        latest_chars=_length(messages[users[-1]].get("content")),
        tool_calls=tuple(calls),
        steps_since_user=since_user,
    )
