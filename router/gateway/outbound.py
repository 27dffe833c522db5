"""What of a client's body may reach the provider.

The gateway calls providers with the operator's keys, so a field the client sends is spent
on the operator's account. Only fields on the allow-list below pass: the API's own request
fields and sampling knobs. Provider routing and add-ons that cost money or reach other
users' data (OpenRouter's `models`, `plugins`, `provider`, `route`, `transforms`; OpenAI's
`previous_response_id`, `conversation`, `background`, `service_tier`, `n`; Anthropic's
`mcp_servers`, `container`) are dropped unless the operator allows them for a key
(`autotier accounts fields`). Tools that the provider runs itself (web search, code
execution, file search, MCP) are refused with a 400 unless allowed as `server_tools`.
The decision's own params are merged after this and always pass."""

from __future__ import annotations

from typing import Any

from router.contract import ApiKind
from router.gateway.wire import bad_request

SAMPLING = frozenset({"temperature", "top_p", "top_k", "min_p", "top_a", "repetition_penalty",
                      "presence_penalty", "frequency_penalty", "seed", "stop"})

ALLOWED_FIELDS: dict[ApiKind, frozenset[str]] = {
    ApiKind.CHAT: SAMPLING | frozenset({
        "model", "messages", "stream", "stream_options", "tools", "tool_choice", "parallel_tool_calls",
        "max_tokens", "max_completion_tokens", "response_format", "user", "logprobs", "top_logprobs",
        "logit_bias", "reasoning_effort", "reasoning", "verbosity", "usage",
    }),
    ApiKind.RESPONSES: SAMPLING | frozenset({
        "model", "input", "instructions", "stream", "tools", "tool_choice", "parallel_tool_calls",
        "max_output_tokens", "max_tool_calls", "reasoning", "text", "include", "metadata", "user",
        "prompt_cache_key", "safety_identifier", "top_logprobs", "truncation", "store",
    }),
    ApiKind.MESSAGES: SAMPLING | frozenset({
        "model", "messages", "system", "max_tokens", "metadata", "stop_sequences", "stream",
        "tools", "tool_choice", "thinking", "output_config",
    }),
}

# Tools the client runs itself; any other typed tool is one the provider runs (and bills).
CLIENT_TOOL_TYPES = frozenset({"function", "custom", "local_shell", "shell", "apply_patch", "computer_use_preview"})
CLIENT_TOOL_PREFIXES = ("bash_", "text_editor_", "computer_", "memory_")
SERVER_TOOLS = "server_tools"  # the operator's name for allowing provider-run tools per key


def _client_tool(tool: Any) -> bool:
    kind = tool.get("type") if isinstance(tool, dict) else None
    if kind is None or kind in CLIENT_TOOL_TYPES:
        return True
    return isinstance(kind, str) and kind.startswith(CLIENT_TOOL_PREFIXES)


def check_tools(body: dict[str, Any], allowed: frozenset[str]) -> None:
    """400 for a tool the provider would run (and bill) unless the key may use them."""
    if SERVER_TOOLS in allowed:
        return
    for i, tool in enumerate(body.get("tools") or ()):
        if not _client_tool(tool):
            raise bad_request(f"tools[{i}] of type {tool.get('type')!r} runs at the provider and is not allowed "
                              "for this key (only client-side tools such as 'function')", "tool_not_allowed")


def provider_body(api: ApiKind, body: dict[str, Any], allowed: frozenset[str]) -> tuple[dict[str, Any], list[str]]:
    """The fields of `body` that may reach the provider, and the names dropped."""
    fields = ALLOWED_FIELDS[api] | allowed
    kept = {k: v for k, v in body.items() if k in fields}
    dropped = sorted(k for k in body if k not in fields)
    return kept, dropped
