"""OpenAI Responses wire format: `response` objects and the `response.*` event stream."""

from __future__ import annotations

from typing import Any

from router.mock_upstream.replies import Reply
from router.mock_upstream.sse import named

# Request fields a real `response` object echoes back, with the defaults it reports.
_ECHOED: dict[str, Any] = {
    "instructions": None, "max_output_tokens": None, "metadata": {}, "parallel_tool_calls": True,
    "previous_response_id": None, "reasoning": {"effort": None, "summary": None}, "store": False,
    "temperature": 1.0, "text": {"format": {"type": "text"}}, "tool_choice": "auto", "tools": [],
    "top_p": 1.0, "truncation": "disabled", "user": None,
}


def _usage(reply: Reply) -> dict[str, Any]:
    return {
        "input_tokens": reply.input_tokens, "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": reply.output_tokens, "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": reply.total_tokens,
    }


def _item(reply: Reply, done: bool) -> dict[str, Any]:
    status = "completed" if done else "in_progress"
    if reply.tool_call:
        return {"type": "function_call", "id": f"fc_mock{reply.serial}", "call_id": f"call_mock{reply.serial}",
                "name": reply.tool_call.name, "arguments": reply.tool_call.arguments_json if done else "",
                "status": status}
    content = [_part(reply.text)] if done else []
    return {"type": "message", "id": f"msg_mock{reply.serial}", "status": status, "role": "assistant",
            "content": content}


def _part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def response_object(reply: Reply, request: dict[str, Any], created: int, done: bool = True) -> dict[str, Any]:
    """A `response` object; `done=False` gives the in-progress form sent by `response.created`."""
    echoed = {k: default if request.get(k) is None else request[k] for k, default in _ECHOED.items()}
    return {
        "id": f"resp_mock{reply.serial}", "object": "response", "created_at": created,
        "status": "completed" if done else "in_progress", "background": False, "error": None,
        "incomplete_details": None, "model": reply.model, **echoed,
        "output": [_item(reply, True)] if done else [],
        "usage": _usage(reply) if done else None,
    }


def events(reply: Reply, request: dict[str, Any], created: int) -> list[bytes]:
    """The SSE events of a streamed response, `response.created` to `response.completed`."""
    out: list[dict[str, Any]] = []

    def emit(kind: str, **fields: Any) -> None:
        out.append({"type": kind, "sequence_number": len(out), **fields})

    emit("response.created", response=response_object(reply, request, created, done=False))
    emit("response.in_progress", response=response_object(reply, request, created, done=False))
    emit("response.output_item.added", output_index=0, item=_item(reply, False))
    where = {"item_id": _item(reply, False)["id"], "output_index": 0}
    if reply.tool_call:
        for piece in reply.argument_pieces():
            emit("response.function_call_arguments.delta", **where, delta=piece)
        emit("response.function_call_arguments.done", **where, name=reply.tool_call.name,
             arguments=reply.tool_call.arguments_json)
    else:
        emit("response.content_part.added", **where, content_index=0, part=_part(""))
        for piece in reply.text_pieces():
            emit("response.output_text.delta", **where, content_index=0, delta=piece, logprobs=[])
        emit("response.output_text.done", **where, content_index=0, text=reply.text, logprobs=[])
        emit("response.content_part.done", **where, content_index=0, part=_part(reply.text))
    emit("response.output_item.done", output_index=0, item=_item(reply, True))
    emit("response.completed", response=response_object(reply, request, created))
    return [named(e) for e in out]
