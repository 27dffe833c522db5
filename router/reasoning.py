"""Remove reasoning another model family produced from earlier assistant turns.

Signed or encrypted reasoning (Anthropic `thinking` signatures, OpenAI `encrypted_content`)
is only valid for the family that produced it; sending it elsewhere wastes tokens or gets
the request rejected. Visible text, tool calls and tool results are never touched.
"""

from __future__ import annotations

from typing import Any

from router.contract import ApiKind

CHAT_REASONING_FIELDS = ("reasoning", "reasoning_content", "reasoning_details", "thinking_blocks")
MESSAGES_REASONING_BLOCKS = frozenset({"thinking", "redacted_thinking"})


def _strip_chat(messages: list[Any]) -> list[Any]:
    out = []
    for message in messages:
        if isinstance(message, dict) and message.get("role") == "assistant" and any(
            f in message for f in CHAT_REASONING_FIELDS
        ):
            message = {k: v for k, v in message.items() if k not in CHAT_REASONING_FIELDS}
        out.append(message)
    return out


def _is_reasoning_block(block: Any) -> bool:
    kind = block.get("type") if isinstance(block, dict) else None
    return isinstance(kind, str) and kind in MESSAGES_REASONING_BLOCKS


def _strip_messages(messages: list[Any]) -> list[Any]:
    out = []
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list) and message.get("role") == "assistant":
            kept = [b for b in content if not _is_reasoning_block(b)]
            if len(kept) != len(content):
                message = {**message, "content": kept}
        out.append(message)
    return out


def _strip_responses(items: list[Any]) -> list[Any]:
    return [i for i in items if not (isinstance(i, dict) and i.get("type") == "reasoning")]


def strip_foreign_reasoning(
    body: dict[str, Any], api: ApiKind, produced_by: str | None, serving: str
) -> dict[str, Any]:
    """Return `body` without reasoning from earlier turns when the family that produced
    them (`produced_by`, e.g. from the session's previous serving model) differs from the
    family about to serve (`serving`). Same or unknown producer: `body` is returned as is.
    Never mutates the input; idempotent."""
    if produced_by is None or produced_by == serving:
        return body
    if api is ApiKind.RESPONSES:
        items = body.get("input")
        if isinstance(items, list):
            return {**body, "input": _strip_responses(items)}
        return body
    messages = body.get("messages")
    if not isinstance(messages, list):
        return body
    strip = _strip_chat if api is ApiKind.CHAT else _strip_messages
    return {**body, "messages": strip(messages)}
