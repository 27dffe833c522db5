"""OpenAPI request schemas of the proxied endpoints (documentation and the fuzz tests'
source). Validation itself is `wire.validate`, which answers in each API's error shape."""

from __future__ import annotations

from typing import Any

from router.contract import ApiKind

_CONTENT = {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "object"}}]}
_MESSAGE = {
    "type": "object",
    "required": ["role", "content"],
    "properties": {"role": {"type": "string"}, "content": _CONTENT},
}
_COMMON = {
    "model": {"type": "string", "description": "a kilo-auto tier or a catalog model id"},
    "stream": {"type": "boolean"},
    "tools": {"type": "array", "items": {"type": "object"}},
    "temperature": {"type": "number"},
}

CHAT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["messages"],
    "properties": {**_COMMON, "messages": {"type": "array", "items": _MESSAGE, "minItems": 1},
                   "max_tokens": {"type": "integer"}},
}
RESPONSES_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["input"],
    "properties": {**_COMMON, "input": {"anyOf": [{"type": "string"},
                                                  {"type": "array", "items": {"type": "object"}}]},
                   "instructions": {"type": "string"}, "max_output_tokens": {"type": "integer"}},
}
MESSAGES_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["messages", "max_tokens"],
    "properties": {
        **_COMMON,
        "messages": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["role", "content"],
            "properties": {"role": {"enum": ["user", "assistant"]}, "content": _CONTENT}}},
        "max_tokens": {"type": "integer", "minimum": 1},
        "system": _CONTENT,
    },
}
ROUTE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"api": {"enum": ["chat", "responses", "messages"]}, "model": {"type": "string"},
                   "messages": {"type": "array", "items": {"type": "object"}},
                   "input": _CONTENT},
}
REQUEST_SCHEMAS = {ApiKind.CHAT: CHAT_SCHEMA, ApiKind.RESPONSES: RESPONSES_SCHEMA,
                   ApiKind.MESSAGES: MESSAGES_SCHEMA}
