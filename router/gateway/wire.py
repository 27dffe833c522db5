"""The three wire APIs the gateway speaks: how to read what routing needs from a body,
which fields must be there, and each API's error shape."""

from __future__ import annotations

import json
from typing import Any

import orjson

from router.contract import ApiKind, estimate_tokens
from router.errors import AutotierError

IMAGE_PART_TYPES = frozenset({"image_url", "input_image", "image"})

ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error", 401: "authentication_error", 402: "billing_error",
    403: "permission_error", 404: "not_found_error", 413: "request_too_large",
    415: "invalid_request_error", 422: "invalid_request_error", 429: "rate_limit_error",
    503: "overloaded_error", 529: "overloaded_error",
}
OPENAI_ERROR_TYPES = {
    400: "invalid_request_error", 401: "authentication_error", 402: "insufficient_quota",
    403: "permission_error", 404: "not_found_error", 413: "invalid_request_error",
    415: "invalid_request_error", 429: "rate_limit_error",
}


def bad_request(message: str, code: str = "invalid_request", status: int = 400) -> AutotierError:
    return AutotierError(message, code=code, status=status)


def error_body(api: ApiKind, status: int, code: str, message: str) -> dict[str, Any]:
    """The error object a client of `api` expects (OpenAI's for chat and Responses,
    Anthropic's for Messages); `code` is autotier's machine-readable code."""
    if api is ApiKind.MESSAGES:
        kind = ANTHROPIC_ERROR_TYPES.get(status, "api_error")
        return {"type": "error", "error": {"type": kind, "message": message, "code": code}}
    kind = OPENAI_ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return {"error": {"message": message, "type": kind, "code": code, "param": None}}


def _require(body: dict[str, Any], name: str, types: tuple[type, ...], what: str) -> None:
    if name not in body:
        raise bad_request(f"missing required field {name!r} ({what})", "missing_field")
    value = body[name]
    if not isinstance(value, types) or isinstance(value, bool) and bool not in types:
        raise bad_request(f"field {name!r} must be {what}, got {type(value).__name__}", "invalid_type")


def _optional(body: dict[str, Any], name: str, types: tuple[type, ...], what: str) -> None:
    if body.get(name) is not None:
        _require(body, name, types, what)


def _check_items(items: list[Any], name: str) -> None:
    """Every item an object; every typed item or content block with a string `type`."""
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise bad_request(f"{name}[{i}] must be an object, got {type(item).__name__}", "invalid_type")
        if "type" in item and not isinstance(item["type"], str):
            raise bad_request(f"{name}[{i}].type must be a string", "invalid_type")
        content = item.get("content")
        if isinstance(content, list):
            for j, block in enumerate(content):
                if not isinstance(block, dict) or not isinstance(block.get("type"), str):
                    raise bad_request(f"{name}[{i}].content[{j}] must be an object with a string 'type'",
                                      "invalid_type")


def validate(api: ApiKind, body: Any) -> dict[str, Any]:
    """Check the fields the gateway itself relies on; provider-specific fields pass
    through. Raises a 400 AutotierError naming the field."""
    if not isinstance(body, dict):
        raise bad_request(f"request body must be a JSON object, got {type(body).__name__}", "invalid_body")
    _optional(body, "model", (str,), "a string")
    _optional(body, "stream", (bool,), "a boolean")
    if api is ApiKind.CHAT:
        _require(body, "messages", (list,), "an array of messages")
        if not body["messages"]:
            raise bad_request("'messages' must not be empty", "invalid_value")
        _check_items(body["messages"], "messages")
        for i, message in enumerate(body["messages"]):
            if not isinstance(message.get("role"), str):
                raise bad_request(f"messages[{i}].role must be a string", "invalid_type")
        _optional(body, "tools", (list,), "an array")
        _optional(body, "max_tokens", (int,), "an integer")
    elif api is ApiKind.RESPONSES:
        _require(body, "input", (str, list), "a string or an array of items")
        if isinstance(body["input"], list):
            _check_items(body["input"], "input")
        _optional(body, "instructions", (str,), "a string")
        _optional(body, "tools", (list,), "an array")
        _optional(body, "max_output_tokens", (int,), "an integer")
    else:
        _require(body, "messages", (list,), "an array of messages")
        if not body["messages"]:
            raise bad_request("'messages' must not be empty", "invalid_value")
        _check_items(body["messages"], "messages")
        for i, message in enumerate(body["messages"]):
            if message.get("role") not in ("user", "assistant"):
                raise bad_request(f"messages[{i}].role must be 'user' or 'assistant'", "invalid_value")
        _require(body, "max_tokens", (int,), "an integer")
        if body["max_tokens"] < 1:
            raise bad_request("'max_tokens' must be at least 1", "invalid_value")
        _optional(body, "system", (str, list), "a string or an array of blocks")
        _optional(body, "tools", (list,), "an array")
    return body


def prompt_material(api: ApiKind, body: dict[str, Any]) -> Any:
    if api is ApiKind.RESPONSES:
        return [body.get("instructions"), body.get("input")]
    if api is ApiKind.MESSAGES:
        return [body.get("system"), body.get("messages")]
    return body.get("messages")


def estimated_tokens(api: ApiKind, body: dict[str, Any]) -> int:
    """A rough prompt size from the serialised prompt fields (tools included)."""
    text = json.dumps([prompt_material(api, body), body.get("tools")], ensure_ascii=False, default=str)
    return estimate_tokens(text)


def _has_image(value: Any, depth: int = 0) -> bool:
    if depth > 8:
        return False
    if isinstance(value, dict):
        kind = value.get("type")
        if isinstance(kind, str) and kind in IMAGE_PART_TYPES:
            return True
        return any(_has_image(v, depth + 1) for v in value.values() if isinstance(v, (dict, list)))
    if isinstance(value, list):
        return any(_has_image(v, depth + 1) for v in value)
    return False


def modalities(api: ApiKind, body: dict[str, Any]) -> frozenset[str]:
    """Input kinds beyond text the request carries (today: images)."""
    return frozenset({"image"}) if _has_image(prompt_material(api, body)) else frozenset()


def usage_tokens(api: ApiKind, usage: Any) -> tuple[int, int]:
    """(tokens in, tokens out) from a usage object or dict of any of the three APIs."""
    if usage is None:
        return 0, 0
    if not isinstance(usage, dict):
        usage = usage.model_dump() if hasattr(usage, "model_dump") else dict(vars(usage))
    tokens_in = usage.get("prompt_tokens", usage.get("input_tokens")) or 0
    tokens_out = usage.get("completion_tokens", usage.get("output_tokens")) or 0
    return int(tokens_in), int(tokens_out)


def dumps(obj: Any) -> bytes:
    """Compact JSON bytes: orjson, or the standard library for what orjson refuses (an
    integer beyond 64 bits in a client's body is still valid JSON)."""
    try:
        return orjson.dumps(obj, default=str, option=orjson.OPT_NON_STR_KEYS)
    except orjson.JSONEncodeError:
        return json.dumps(obj, separators=(",", ":"), default=str, ensure_ascii=False).encode()


def loads(raw: bytes | str) -> Any:
    """JSON from bytes: orjson, or the standard library for what orjson refuses (integers
    beyond 64 bits). Raises json.JSONDecodeError (orjson's is a subclass)."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw)


class SSEParser:
    """Split raw SSE bytes (LiteLLM's Anthropic pass-through, the OpenAI-compatible
    relay) into (event, data-dict) pairs; comments and data that is not a JSON object
    (`[DONE]`) are skipped."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> list[tuple[str | None, dict[str, Any]]]:
        self._buffer += chunk.replace(b"\r\n", b"\n")
        out = []
        while b"\n\n" in self._buffer:
            raw, self._buffer = self._buffer.split(b"\n\n", 1)
            event, data = None, []
            for line in raw.decode("utf-8", "replace").split("\n"):
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].lstrip())
            try:
                parsed = loads("\n".join(data)) if data else None
            except json.JSONDecodeError:
                continue
            if isinstance(parsed, dict):
                out.append((event or parsed.get("type"), parsed))
        return out
