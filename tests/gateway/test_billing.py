"""The cost bound held before a paid call, the output cap it implies, and what a reply
without usage is billed (router/gateway/billing.py), on hand-computed examples."""

from __future__ import annotations

import pytest

from router.catalog import Model
from router.contract import ApiKind
from router.gateway import billing
from router.gateway.outbound import check_tools, provider_body


def _model(model_id: str, price_in: float | None, price_out: float | None, max_output: int | None = None,
           free: bool = False) -> Model:
    return Model.model_validate({
        "id": model_id, "name": model_id, "litellm_model": f"openrouter/{model_id}", "provider": "p",
        "family": "f", "open_weight": False, "free": free, "max_output": max_output,
        "pricing": {"input": price_in, "output": price_out, "source": "test"},
        "data_policy": {"note": "test"},
    })


CHEAP = _model("a/cheap", 1.0, 2.0, max_output=1000)   # $ per million tokens
DEAR = _model("a/dear", 3.0, 15.0, max_output=4000)


def test_the_hold_covers_the_dearest_model_and_the_clients_cap():
    plan = billing.plan_hold([CHEAP, DEAR], tokens_in=1000, client_cap=2000, balance=10.0, min_output_tokens=256)
    # dear: 1000 x 3e-6 + 2000 x 15e-6 = 0.033; cheap: 1000 x 1e-6 + min(2000, 1000) x 2e-6 = 0.003
    assert plan == billing.HoldPlan(pytest.approx(0.033), None)


def test_without_a_client_cap_the_models_own_maximum_counts():
    plan = billing.plan_hold([DEAR], tokens_in=1000, client_cap=None, balance=10.0, min_output_tokens=256)
    assert plan is not None and plan.amount == pytest.approx(0.003 + 4000 * 15e-6)
    unknown = _model("a/unknown-max", 3.0, 15.0)
    plan = billing.plan_hold([unknown], tokens_in=0, client_cap=None, balance=10.0, min_output_tokens=256)
    assert plan == billing.HoldPlan(pytest.approx(billing.DEFAULT_MAX_OUTPUT * 15e-6), billing.DEFAULT_MAX_OUTPUT)


def test_a_small_balance_lowers_the_cap_and_a_tiny_one_is_refused():
    plan = billing.plan_hold([DEAR], tokens_in=1000, client_cap=2000, balance=0.01, min_output_tokens=256)
    # (0.01 - 0.003) / 15e-6 = 466 tokens
    assert plan is not None and plan.max_output_tokens == 466 and plan.amount <= 0.01
    assert billing.plan_hold([DEAR], tokens_in=1000, client_cap=2000, balance=0.005, min_output_tokens=256) is None


def test_a_paid_model_without_a_price_cannot_be_held():
    with pytest.raises(ValueError, match="a paid model needs pricing"):
        _model("a/unpriced", None, None)


@pytest.mark.parametrize("api, body, cap, expected", [
    (ApiKind.CHAT, {"max_tokens": 5000}, 466, {"max_tokens": 466}),
    (ApiKind.CHAT, {"max_completion_tokens": 100}, 466, {"max_completion_tokens": 100}),
    (ApiKind.CHAT, {}, 466, {"max_tokens": 466}),
    (ApiKind.RESPONSES, {}, 466, {"max_output_tokens": 466}),
    (ApiKind.MESSAGES, {"max_tokens": 9000}, 466, {"max_tokens": 466}),
    (ApiKind.CHAT, {"max_tokens": 5000}, None, {"max_tokens": 5000}),
])
def test_the_output_cap_sent(api, body, cap, expected):
    assert billing.with_output_cap(api, body, cap) == expected


def test_the_input_bound_is_at_least_the_prompts_bytes():
    text = "héllo wörld " * 100
    body = {"messages": [{"role": "user", "content": text}]}
    assert billing.input_token_bound(ApiKind.CHAT, body) >= len(text.encode())
    image = {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}
    assert billing.input_token_bound(ApiKind.CHAT, image) >= billing.TOKENS_PER_IMAGE


def test_a_reply_without_usage_is_billed_by_its_text():
    payload = {"choices": [{"message": {"role": "assistant", "content": "x" * 400}}]}
    assert billing.reply_usage(ApiKind.CHAT, payload, None, 50) == (50, 100)
    assert billing.reply_usage(ApiKind.CHAT, payload, (7, 9), 50) == (7, 9)
    messages = {"content": [{"type": "text", "text": "y" * 40}]}
    assert billing.reply_usage(ApiKind.MESSAGES, messages, None, 3) == (3, 10)


def test_streamed_output_is_counted_from_deltas():
    chunk = {"choices": [{"delta": {"content": "abcd", "tool_calls": [{"function": {"arguments": "{}"}}]}}]}
    assert billing.delivered_chars(ApiKind.CHAT, chunk) == 6
    assert billing.delivered_chars(ApiKind.RESPONSES, {"type": "response.output_text.delta", "delta": "abc"}) == 3
    block = {"type": "content_block_delta", "delta": {"type": "text_delta", "text": "hello"}}
    assert billing.delivered_chars(ApiKind.MESSAGES, block) == 5


def test_only_allowed_fields_pass_and_provider_tools_are_refused():
    body = {"messages": [], "temperature": 0.1, "plugins": [{"id": "web"}], "models": ["x"], "provider": {}}
    kept, dropped = provider_body(ApiKind.CHAT, body, frozenset())
    assert kept == {"messages": [], "temperature": 0.1} and dropped == ["models", "plugins", "provider"]
    kept, _ = provider_body(ApiKind.CHAT, body, frozenset({"provider"}))
    assert "provider" in kept
    check_tools({"tools": [{"type": "function", "function": {"name": "f"}}, {"name": "custom"}]}, frozenset())
    with pytest.raises(Exception, match="runs at the provider"):
        check_tools({"tools": [{"type": "web_search_preview"}]}, frozenset())
    check_tools({"tools": [{"type": "web_search_preview"}]}, frozenset({"server_tools"}))
