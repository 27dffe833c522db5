"""Relaying an upstream stream to the client as server-sent events in the client's own
API format, with the real model in every `model` field. Usage is collected on the way
for the ledger. After the first byte there is no fallback: a failure, or an upstream
stream that ends without its final event, becomes one error event in the client's format."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from router.contract import ApiKind
from router.gateway.billing import delivered_chars
from router.gateway.upstream import Served, classify
from router.gateway.wire import SSEParser, dumps, usage_tokens

log = logging.getLogger("autotier.gateway")


def to_dict(item: Any) -> dict[str, Any]:
    if isinstance(item, dict):
        return item
    if hasattr(item, "model_dump"):
        return item.model_dump(exclude_none=True, mode="json")
    return dict(vars(item))


def sse(data: dict[str, Any] | str, event: str | None = None) -> bytes:
    text = data.encode() if isinstance(data, str) else dumps(data)
    head = f"event: {event}\n".encode() if event else b""
    return head + b"data: " + text + b"\n\n"


@dataclass
class StreamOutcome:
    """Filled in while the stream runs; read by the ledger when it ends. `usage_seen`:
    the provider's token counts arrived; until then `delivered_chars` counts the output
    relayed so far (text, reasoning, tool-call arguments), which is what a stream cut short
    is billed for."""

    tokens_in: int = 0
    tokens_out: int = 0
    usage_seen: bool = False
    delivered_chars: int = 0
    completed: bool = False
    error: str | None = None
    events: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def usage(self, estimated_input: int) -> tuple[int, int]:
        """(tokens in, tokens out) to bill: the provider's when it sent them, else the
        input estimate and the output delivered."""
        if self.usage_seen:
            return self.tokens_in, self.tokens_out
        return max(self.tokens_in, estimated_input), max(self.tokens_out, (self.delivered_chars + 3) // 4)


async def _items(served: Served) -> AsyncIterator[Any]:
    yield served.first
    assert served.stream is not None
    async for item in served.stream:
        yield item


def _chat_error(code: str, message: str) -> bytes:
    return sse({"error": {"message": message, "type": "server_error", "code": code, "param": None}})


def _responses_error(code: str, message: str, seq: int) -> bytes:
    event = {"type": "error", "code": code, "message": message, "param": None, "sequence_number": seq}
    return sse(event, "error")


def _messages_error(code: str, message: str) -> bytes:
    return sse({"type": "error", "error": {"type": "api_error", "message": message, "code": code}}, "error")


async def relay(api: ApiKind, served: Served, model_id: str, outcome: StreamOutcome) -> AsyncIterator[bytes]:
    """The client's SSE bytes for an upstream stream whose first item has been read."""
    try:
        if api is ApiKind.CHAT:
            async for chunk in _relay_chat(served, model_id, outcome):
                yield chunk
        elif api is ApiKind.RESPONSES:
            async for chunk in _relay_responses(served, model_id, outcome):
                yield chunk
        else:
            async for chunk in _relay_messages(served, model_id, outcome):
                yield chunk
    except Exception as exc:  # noqa: BLE001 - after the first byte every failure ends the stream
        failure = classify(exc, 0.0)
        outcome.error = f"{failure.status}: {type(exc).__name__}"
        log.warning("stream from %s failed after first byte: %s", model_id, type(exc).__name__)
        message = f"upstream stream from {model_id} failed ({failure.status}); no fallback after the first byte"
        yield _error_event(api, "upstream_stream_failed", message, outcome)
    if not outcome.completed and outcome.error is None:
        outcome.error = "incomplete"
        yield _error_event(api, "upstream_stream_incomplete", "the upstream stream ended early", outcome)
    if api is ApiKind.CHAT:
        yield b"data: [DONE]\n\n"


def _error_event(api: ApiKind, code: str, message: str, outcome: StreamOutcome) -> bytes:
    if api is ApiKind.CHAT:
        return _chat_error(code, message)
    if api is ApiKind.RESPONSES:
        return _responses_error(code, message, outcome.events)
    return _messages_error(code, message)


async def _relay_chat(served: Served, model_id: str, outcome: StreamOutcome) -> AsyncIterator[bytes]:
    async for item in _items(served):
        chunk = to_dict(item)
        chunk["model"] = model_id
        outcome.delivered_chars += delivered_chars(ApiKind.CHAT, chunk)
        if chunk.get("usage"):
            outcome.tokens_in, outcome.tokens_out = usage_tokens(ApiKind.CHAT, chunk["usage"])
            outcome.usage_seen = True
        if any(c.get("finish_reason") for c in chunk.get("choices") or ()):
            outcome.completed = True
        outcome.events += 1
        yield sse(chunk)


async def _relay_responses(served: Served, model_id: str, outcome: StreamOutcome) -> AsyncIterator[bytes]:
    async for item in _items(served):
        event = to_dict(item)
        kind = event.get("type")
        outcome.delivered_chars += delivered_chars(ApiKind.RESPONSES, event)
        response = event.get("response")
        if isinstance(response, dict):
            response["model"] = model_id
            if kind in ("response.completed", "response.incomplete", "response.failed"):
                outcome.completed = True
                if response.get("usage"):
                    outcome.tokens_in, outcome.tokens_out = usage_tokens(ApiKind.RESPONSES, response["usage"])
                    outcome.usage_seen = True
        outcome.events += 1
        yield sse(event, kind if isinstance(kind, str) else None)


async def _relay_messages(served: Served, model_id: str, outcome: StreamOutcome) -> AsyncIterator[bytes]:
    parser = SSEParser()
    async for item in _items(served):
        if isinstance(item, (bytes, bytearray)):
            events = parser.feed(bytes(item))
        elif isinstance(item, str):
            events = parser.feed(item.encode())
        else:
            data = to_dict(item)
            events = [(data.get("type"), data)]
        for kind, data in events:
            outcome.delivered_chars += delivered_chars(ApiKind.MESSAGES, data)
            if kind == "message_start" and isinstance(data.get("message"), dict):
                data["message"]["model"] = model_id
                usage = data["message"].get("usage") or {}
                outcome.tokens_in = int(usage.get("input_tokens") or 0)
            elif kind == "message_delta" and isinstance(data.get("usage"), dict):
                outcome.tokens_out = int(data["usage"].get("output_tokens") or 0)
                outcome.usage_seen = True
                if data["usage"].get("input_tokens"):
                    outcome.tokens_in = int(data["usage"]["input_tokens"])
            elif kind == "message_stop":
                outcome.completed = True
            elif kind == "error":
                outcome.error = "upstream error event"
            outcome.events += 1
            yield sse(data, kind)


