"""The LiteLLM proxy plug-in without a proxy: building the RoutingRequest from LiteLLM's
`data`, rewriting `data` for the decision, and the hook end to end on hand-made `data`."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from router.config import load_config
from router.contract import ApiKind
from router.litellm_hook import (
    DECISION_KEY,
    AutotierHook,
    account_of,
    decision_headers,
    is_routed,
    request_headers,
    routing_request,
)

CONFIG = load_config()
ALL_GROUPS = frozenset(m.id for m in CONFIG.catalog)
MASTER_KEY = SimpleNamespace(user_id=None, token="hashed-key", max_budget=None, spend=0.0)


def proxy_data(model: str, headers: dict[str, str] | None = None, api: ApiKind = ApiKind.CHAT,
               text: str = "hi", **body: Any) -> dict[str, Any]:
    """`data` as LiteLLM 1.106's proxy hands it to async_pre_call_hook: the body plus its keys."""
    prompt: dict[str, Any] = {"input": text} if api is ApiKind.RESPONSES else {
        "messages": [{"role": "user", "content": text}]}
    meta_key = "metadata" if api is ApiKind.CHAT else "litellm_metadata"
    safe_headers = {"content-type": "application/json", "authorization": "Bearer sk-...redacted", **(headers or {})}
    return {
        "model": model, **prompt, **body,
        "proxy_server_request": {"url": "http://proxy/v1/chat/completions", "method": "POST",
                                 "headers": safe_headers, "body": None},
        meta_key: {"headers": safe_headers, "requester_ip_address": "10.0.0.7", "user_api_key_user_id": None},
    }


def run_hook(hook: AutotierHook, data: dict[str, Any], call_type: str = "acompletion", key: Any = MASTER_KEY) -> dict:
    return asyncio.run(hook.async_pre_call_hook(user_api_key_dict=key, cache=None, data=data, call_type=call_type))


@pytest.fixture(scope="module")
def hook() -> AutotierHook:
    return AutotierHook(model_groups=lambda: ALL_GROUPS)


def test_routing_request_reads_body_headers_and_key() -> None:
    data = proxy_data("kilo-auto/frontier", {"X-Kilocode-Mode": "plan", "x-kilocode-taskid": "task-1"},
                      text="x" * 400)
    routing = routing_request(data, ApiKind.CHAT, MASTER_KEY)
    assert (routing.requested_model, routing.api_kind, routing.mode, routing.session_id) == (
        "kilo-auto/frontier", ApiKind.CHAT, "plan", "task-1")
    assert routing.client_ip == "10.0.0.7"
    assert routing.user_id == "hashed-key"
    assert routing.account.has_paid_balance
    assert routing.estimated_prompt_tokens and routing.estimated_prompt_tokens >= 100
    assert routing.required_modalities == frozenset()


def test_routing_request_session_falls_back_to_x_session_id_and_sees_images() -> None:
    image = [{"type": "text", "text": "what is this"}, {"type": "image_url", "image_url": {"url": "data:..."}}]
    data = proxy_data("kilo-auto/balanced", {"x-session-id": "s-9"})
    data["messages"] = [{"role": "user", "content": image}]
    routing = routing_request(data, ApiKind.CHAT)
    assert routing.session_id == "s-9" and routing.mode is None
    assert routing.required_modalities == frozenset({"image"})
    assert not routing.account.authenticated


def test_request_headers_from_metadata_when_no_proxy_server_request() -> None:
    data = proxy_data("kilo-auto/open", {"x-kilocode-mode": "code"}, api=ApiKind.MESSAGES)
    del data["proxy_server_request"]
    assert request_headers(data)["x-kilocode-mode"] == "code"


@pytest.mark.parametrize(("max_budget", "spend", "paid"), [(None, 5.0, True), (10.0, 4.0, True), (10.0, 10.0, False)])
def test_account_is_what_is_left_of_the_key_budget(max_budget: float | None, spend: float, paid: bool) -> None:
    key = SimpleNamespace(max_budget=max_budget, spend=spend)
    assert account_of(key).has_paid_balance is paid


@pytest.mark.parametrize(("model", "groups", "routed"), [
    ("kilo-auto/frontier", ALL_GROUPS, True),
    ("KILO-AUTO/Balanced", ALL_GROUPS, True),
    ("kilo/auto", ALL_GROUPS, True),
    ("kilo/auto-small", ALL_GROUPS, True),
    ("kilo-auto/xyz", ALL_GROUPS, True),                       # answered with a clear 404 by route()
    ("kilo-auto/frontier", ALL_GROUPS | {"kilo-auto/frontier"}, True),  # a placeholder group does not opt out
    ("auto", ALL_GROUPS, True),
    ("auto", ALL_GROUPS | {"auto"}, False),                    # the operator's own "auto" group wins
    ("anthropic/claude-sonnet-4.6", ALL_GROUPS, False),        # a model group: LiteLLM's business
    ("gpt-4o", ALL_GROUPS, False),
    (None, ALL_GROUPS, False),
])
def test_which_requests_autotier_decides(model: Any, groups: frozenset[str], routed: bool) -> None:
    assert is_routed(model, CONFIG, groups) is routed


@pytest.mark.parametrize(("model", "mode", "expected"), [
    ("kilo-auto/frontier", "plan", "anthropic/claude-opus-4.7"),
    ("kilo-auto/frontier", "code", "anthropic/claude-sonnet-4.6"),
    ("kilo/auto", "plan", "anthropic/claude-opus-4.7"),
    ("kilo-auto/balanced", None, "qwen/qwen3.6-plus"),
    ("kilo-auto/small", None, "google/gemma-4-31b-it"),  # the master key has no budget: paid route
    ("kilo-auto/open", "code", "minimax/minimax-m2.7"),
])
def test_hook_rewrites_model_fallbacks_and_params(hook: AutotierHook, model: str, mode: str | None,
                                                  expected: str) -> None:
    data = run_hook(hook, proxy_data(model, {"x-kilocode-mode": mode} if mode else {}))
    decision = data["metadata"][DECISION_KEY]
    assert data["model"] == decision["model"] == expected
    assert data.get("fallbacks", [{expected: []}]) == [{expected: decision["fallbacks"]}]
    assert set(decision["fallbacks"]) <= ALL_GROUPS
    # Chat: OpenRouter-style reasoning/verbosity go in extra_body, as the gateway sends them.
    for key, value in decision["params"].items():
        assert data.get(key, data.get("extra_body", {}).get(key)) == value


def test_frontier_params_are_merged_into_extra_body(hook: AutotierHook) -> None:
    data = run_hook(hook, proxy_data("kilo-auto/frontier", {"x-kilocode-mode": "plan"},
                                     extra_body={"reasoning": {"max_tokens": 10}, "usage": {"include": True}}))
    assert data["extra_body"] == {"reasoning": {"max_tokens": 10, "effort": "medium"}, "usage": {"include": True},
                                  "verbosity": "medium"}


def test_messages_and_responses_params_go_in_the_body(hook: AutotierHook) -> None:
    messages = run_hook(hook, proxy_data("kilo-auto/balanced", api=ApiKind.MESSAGES, max_tokens=64),
                        call_type="anthropic_messages")
    assert messages["model"] == "anthropic/claude-sonnet-4.6"
    assert messages["output_config"] == {"effort": "low"} and messages["thinking"] == {"type": "adaptive"}
    assert DECISION_KEY in messages["litellm_metadata"] and "metadata" not in messages
    responses = run_hook(hook, proxy_data("kilo-auto/balanced", api=ApiKind.RESPONSES), call_type="aresponses")
    assert responses["model"] == "openai/gpt-5.5" and responses["reasoning"] == {"effort": "low"}


def test_models_missing_from_the_model_list_are_skipped() -> None:
    hook = AutotierHook(model_groups=lambda: ALL_GROUPS - {"anthropic/claude-opus-4.7", "openai/gpt-5.5"})
    data = run_hook(hook, proxy_data("kilo-auto/frontier", {"x-kilocode-mode": "plan"}))
    assert data["model"] == "anthropic/claude-sonnet-4.6"
    assert "fallbacks" not in data  # the rest of the chain (opus, gpt-5.5) is not on this proxy
    assert any("skip anthropic/claude-opus-4.7" in r for r in data["metadata"][DECISION_KEY]["reason"])


def test_a_tier_with_no_configured_model_is_a_clear_404() -> None:
    from litellm.proxy._types import ProxyException

    hook = AutotierHook(model_groups=lambda: frozenset({"anthropic/claude-sonnet-4.6"}))
    with pytest.raises(ProxyException) as caught:
        run_hook(hook, proxy_data("kilo-auto/open"))
    assert caught.value.code == "404"
    assert "model_list" in caught.value.message and "catalog id" in caught.value.message
    assert caught.value.provider_specific_fields == {"autotier_code": "no_open_models_configured"}


def test_unknown_virtual_id_is_a_404_naming_it(hook: AutotierHook) -> None:
    from litellm.proxy._types import ProxyException

    with pytest.raises(ProxyException) as caught:
        run_hook(hook, proxy_data("kilo-auto/xyz"))
    assert caught.value.code == "404" and "'kilo-auto/xyz'" in caught.value.message
    assert caught.value.to_dict()["type"] == "not_found_error"


def test_other_models_and_call_types_pass_untouched(hook: AutotierHook) -> None:
    data = proxy_data("anthropic/claude-sonnet-4.6")
    assert run_hook(hook, data) == proxy_data("anthropic/claude-sonnet-4.6")
    embedding = {"model": "kilo-auto/frontier", "input": "x"}
    assert run_hook(hook, dict(embedding), call_type="aembedding") == embedding


def test_session_remembers_the_model_and_strips_foreign_reasoning() -> None:
    hook = AutotierHook(model_groups=lambda: ALL_GROUPS)
    first = run_hook(hook, proxy_data("kilo-auto/frontier", {"x-kilocode-mode": "plan", "x-kilocode-taskid": "t"}))
    assert first["model"] == "anthropic/claude-opus-4.7"
    follow_up = proxy_data("kilo-auto/balanced", {"x-kilocode-taskid": "t"})
    follow_up["messages"] = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello", "reasoning_details": [{"type": "reasoning.encrypted"}]},
        {"role": "user", "content": "go on"},
    ]
    data = run_hook(hook, follow_up)
    assert data["model"] == "qwen/qwen3.6-plus"
    assert data["messages"][1] == {"role": "assistant", "content": "hello"}


def test_efficient_classifies_before_routing(hook: AutotierHook) -> None:
    data = run_hook(hook, proxy_data("kilo-auto/efficient", text="This unit test fails with a KeyError, fix the parser"))
    decision = data["metadata"][DECISION_KEY]
    assert decision["tier"] == "efficient" and data["model"] == decision["model"]
    assert any("classified as" in r for r in decision["reason"])


def test_decision_headers_are_ascii_and_bounded() -> None:
    headers = decision_headers({"tier": None, "model": "m", "reason": ["é" * 2000]})
    assert headers["x-autotier-tier"] == "none" and headers["x-autotier-model"] == "m"
    assert len(headers["x-autotier-reason"]) == 1024 and headers["x-autotier-reason"].isascii()


def test_response_headers_hook_reads_the_decision(hook: AutotierHook) -> None:
    data = run_hook(hook, proxy_data("kilo-auto/balanced"))
    headers = asyncio.run(hook.async_post_call_response_headers_hook(data=data, user_api_key_dict=None, response=None))
    assert headers is not None and headers["x-autotier-model"] == "qwen/qwen3.6-plus"
    assert asyncio.run(hook.async_post_call_response_headers_hook(data={}, user_api_key_dict=None, response=None)) is None
