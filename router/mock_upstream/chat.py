"""OpenAI Chat Completions wire format: `chat.completion` bodies and `chat.completion.chunk` streams."""

from __future__ import annotations

from typing import Any

from router.mock_upstream.replies import Reply
from router.mock_upstream.sse import DONE, data


def _usage(reply: Reply) -> dict[str, Any]:
    return {
        "prompt_tokens": reply.input_tokens, "completion_tokens": reply.output_tokens,
        "total_tokens": reply.total_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                      "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0},
    }


def completion(reply: Reply, created: int) -> dict[str, Any]:
    """A non-streaming `chat.completion` object."""
    if reply.tool_call:
        message: dict[str, Any] = {
            "role": "assistant", "content": None, "refusal": None, "annotations": [],
            "tool_calls": [{"id": f"call_mock{reply.serial}", "type": "function", "function": {
                "name": reply.tool_call.name, "arguments": reply.tool_call.arguments_json}}],
        }
        finish = "tool_calls"
    else:
        message = {"role": "assistant", "content": reply.text, "refusal": None, "annotations": []}
        finish = "stop"
    return {
        "id": f"chatcmpl-mock{reply.serial}", "object": "chat.completion", "created": created,
        "model": reply.model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": _usage(reply), "service_tier": "default", "system_fingerprint": "fp_mock",
    }


def chunks(reply: Reply, created: int, include_usage: bool) -> list[bytes]:
    """The SSE events of a streamed completion, ending with `data: [DONE]`."""
    head = {"id": f"chatcmpl-mock{reply.serial}", "object": "chat.completion.chunk", "created": created,
            "model": reply.model, "service_tier": "default", "system_fingerprint": "fp_mock"}
    if include_usage:
        head["usage"] = None

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return data({**head, "choices": [choice]})

    if reply.tool_call:
        call = {"index": 0, "id": f"call_mock{reply.serial}", "type": "function",
                "function": {"name": reply.tool_call.name, "arguments": ""}}
        events = [chunk({"role": "assistant", "content": None, "tool_calls": [call]})]
        events += [chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
                   for piece in reply.argument_pieces()]
        events.append(chunk({}, "tool_calls"))
    else:
        events = [chunk({"role": "assistant", "content": "", "refusal": None})]
        events += [chunk({"content": piece}) for piece in reply.text_pieces()]
        events.append(chunk({}, "stop"))
    if include_usage:
        events.append(data({**head, "choices": [], "usage": _usage(reply)}))
    events.append(DONE)
    return events
