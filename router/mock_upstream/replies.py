"""What the mock answers: deterministic text or a tool call, with rough token counts."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from router.mock_upstream.config import ScriptedAnswer, ScriptedCall
from router.mock_upstream.errors import ApiShape

# A last user message matching this, in a request that offers tools, gets a tool call.
TOOL_TRIGGER = re.compile(r"\b(?:use|call) (?:a|the|any) tool\b", re.IGNORECASE)
QUOTE_CHARS = 40
_NOT_TEXT_KEYS = frozenset({"role", "type", "id", "tool_call_id", "call_id", "cache_control", "status"})


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One call the mock makes: a tool name and JSON-able arguments."""

    name: str
    arguments: dict[str, Any]

    @property
    def arguments_json(self) -> str:
        """The arguments as compact JSON text."""
        return json.dumps(self.arguments, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class Reply:
    """The planned answer for one request; token counts are characters/4, at least 1."""

    model: str
    serial: int
    text: str
    tool_call: ToolCall | None
    input_tokens: int
    output_tokens: int

    @property
    def total_tokens(self) -> int:
        """input_tokens + output_tokens."""
        return self.input_tokens + self.output_tokens

    def text_pieces(self) -> list[str]:
        """The text split into word-sized deltas whose concatenation is the text."""
        return re.findall(r"\S+\s*", self.text) or [self.text]

    def argument_pieces(self) -> list[str]:
        """The tool-call arguments JSON split into a few deltas."""
        args = self.tool_call.arguments_json if self.tool_call else ""
        step = max(1, len(args) // 3)
        return [args[i:i + step] for i in range(0, len(args), step)] or [""]


def plan_reply(api: ApiShape, model: str, body: dict[str, Any], serial: int,
               script: Sequence[ScriptedCall] = (), answers: Sequence[ScriptedAnswer] = ()) -> Reply:
    """Decide text or tool call for a parsed request body of kind `api`.

    `script` (a model's `tool_script`): the Nth request after a user turn, N counted by the
    tool results since that turn, answers with the Nth scripted call among those whose
    tool the request offers; past the end of those it answers text.
    """
    turn, tool_names = _last_turn(api, body)
    text_in, is_tool_result = turn
    tool_call = None
    if tool_names and script:
        offered = [step for step in script if step.name in tool_names]
        done = _results_since_user(api, body)
        if done < len(offered):
            step = offered[done]
            args = step.arguments if step.arguments is not None else _example(
                _tool_schemas(api, body).get(step.name) or {})
            tool_call = ToolCall(step.name, args)
    elif tool_names and not is_tool_result and TOOL_TRIGGER.search(text_in):
        tools = _tool_schemas(api, body)
        name = next((n for n in tool_names if n in text_in), tool_names[0])
        tool_call = ToolCall(name, _example(tools.get(name) or {}))
    prefix = "tool result: " if is_tool_result else ""
    scripted = next((a.text for a in answers if not is_tool_result and a.match in text_in), None)
    text = scripted if scripted is not None else f"[mock {model}] {prefix}{text_in[:QUOTE_CHARS]}".rstrip()
    out_chars = len(tool_call.arguments_json) + len(tool_call.name) if tool_call else len(text)
    in_chars = _chars(body.get("messages")) + _chars(body.get("input")) + _chars(body.get("system")) \
        + _chars(body.get("instructions")) + _chars(body.get("tools"))
    return Reply(model, serial, text, tool_call, max(1, in_chars // 4), max(1, out_chars // 4))


def _last_turn(api: ApiShape, body: dict[str, Any]) -> tuple[tuple[str, bool], list[str]]:
    tools = body.get("tools") or []
    if api == "chat":
        names = [t.get("function", {}).get("name") for t in tools if isinstance(t, dict)]
        messages = body.get("messages") or []
        last = messages[-1] if messages and isinstance(messages[-1], dict) else {}
        turn = (_text(last.get("content")), last.get("role") in ("tool", "function"))
    elif api == "responses":
        names = [t.get("name") for t in tools if isinstance(t, dict)]
        items = body.get("input")
        if isinstance(items, str):
            turn = (items, False)
        else:
            last = items[-1] if isinstance(items, list) and items and isinstance(items[-1], dict) else {}
            if last.get("type") == "function_call_output":
                turn = (_text(last.get("output")), True)
            else:
                turn = (_text(last.get("content")), False)
    else:
        names = [t.get("name") for t in tools if isinstance(t, dict)]
        messages = body.get("messages") or []
        last = messages[-1] if messages and isinstance(messages[-1], dict) else {}
        content = last.get("content")
        is_result = isinstance(content, list) and any(
            isinstance(b, dict) and b.get("type") == "tool_result" for b in content)
        turn = (_text(content), is_result)
    return turn, [n for n in names if isinstance(n, str)]


def _results_since_user(api: ApiShape, body: dict[str, Any]) -> int:
    """Tool results after the latest user turn a person wrote (not a tool-result carrier)."""
    items = body.get("input") if api == "responses" else body.get("messages")
    if not isinstance(items, list):
        return 0
    count = 0
    for item in reversed(items):
        if not isinstance(item, dict):
            continue
        if item.get("type") == "function_call_output" or item.get("role") in ("tool", "function"):
            count += 1
            continue
        if item.get("role") != "user":
            continue
        content = item.get("content")
        results = sum(1 for b in content if isinstance(b, dict) and b.get("type") == "tool_result") \
            if isinstance(content, list) else 0
        if not results:
            break
        count += results
    return count


def _tool_schemas(api: ApiShape, body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    schemas: dict[str, dict[str, Any]] = {}
    for tool in body.get("tools") or []:
        if not isinstance(tool, dict):
            continue
        if api == "chat":
            fn = tool.get("function") or {}
            schemas[fn.get("name", "")] = fn.get("parameters") or {}
        elif api == "responses":
            schemas[tool.get("name", "")] = tool.get("parameters") or {}
        else:
            schemas[tool.get("name", "")] = tool.get("input_schema") or {}
    return schemas


def _text(content: Any) -> str:
    """The visible text of a message content: a string or a list of text parts/blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict):
                if isinstance(part.get("text"), str):
                    parts.append(part["text"])
                elif "content" in part:  # Anthropic tool_result blocks nest their content
                    parts.append(_text(part["content"]))
        return " ".join(p for p in parts if p)
    return ""


def _chars(value: Any) -> int:
    """Total length of the strings inside a JSON value, skipping structural keys."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, list):
        return sum(_chars(v) for v in value)
    if isinstance(value, dict):
        return sum(_chars(v) for k, v in value.items() if k not in _NOT_TEXT_KEYS)
    return 0


def _example(schema: dict[str, Any], depth: int = 0) -> Any:
    """A deterministic value that fits a JSON schema (required properties only, when listed)."""
    if "enum" in schema and schema["enum"]:
        return schema["enum"][0]
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        if depth > 4:
            return {}
        props = schema.get("properties") or {}
        names = schema.get("required") or list(props)
        return {n: _example(props.get(n) or {}, depth + 1) for n in names}
    return {"string": "mock", "integer": 1, "number": 1, "boolean": True, "array": [], "null": None}.get(
        kind, "mock")
