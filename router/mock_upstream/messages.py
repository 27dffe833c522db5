"""Anthropic Messages wire format: `message` bodies and the `message_start`..`message_stop` stream."""

from __future__ import annotations

from typing import Any

from router.mock_upstream.replies import Reply
from router.mock_upstream.sse import named


def _usage(reply: Reply, output_tokens: int) -> dict[str, Any]:
    return {"input_tokens": reply.input_tokens, "output_tokens": output_tokens,
            "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "service_tier": "standard"}


def _stop_reason(reply: Reply) -> str:
    return "tool_use" if reply.tool_call else "end_turn"


def message(reply: Reply) -> dict[str, Any]:
    """A non-streaming `message` object."""
    if reply.tool_call:
        block: dict[str, Any] = {"type": "tool_use", "id": f"toolu_mock{reply.serial}",
                                 "name": reply.tool_call.name, "input": reply.tool_call.arguments}
    else:
        block = {"type": "text", "text": reply.text}
    return {
        "id": f"msg_mock{reply.serial}", "type": "message", "role": "assistant", "model": reply.model,
        "content": [block], "stop_reason": _stop_reason(reply), "stop_sequence": None,
        "usage": _usage(reply, reply.output_tokens),
    }


def events(reply: Reply) -> list[bytes]:
    """The SSE events of a streamed message, `message_start` to `message_stop`."""
    start = {**message(reply), "content": [], "stop_reason": None, "usage": _usage(reply, 1)}
    out: list[dict[str, Any]] = [{"type": "message_start", "message": start}]
    if reply.tool_call:
        block = {"type": "tool_use", "id": f"toolu_mock{reply.serial}", "name": reply.tool_call.name, "input": {}}
        deltas = [{"type": "input_json_delta", "partial_json": p} for p in reply.argument_pieces()]
    else:
        block = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": p} for p in reply.text_pieces()]
    out.append({"type": "content_block_start", "index": 0, "content_block": block})
    out.append({"type": "ping"})
    out += [{"type": "content_block_delta", "index": 0, "delta": d} for d in deltas]
    out.append({"type": "content_block_stop", "index": 0})
    out.append({"type": "message_delta", "delta": {"stop_reason": _stop_reason(reply), "stop_sequence": None},
                "usage": {"input_tokens": reply.input_tokens, "output_tokens": reply.output_tokens,
                          "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}})
    out.append({"type": "message_stop"})
    return [named(e) for e in out]
