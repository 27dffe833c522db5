"""Availability, context-window and modality filters, shared by every tier."""

from __future__ import annotations

import pytest

from router import (
    Account,
    ApiKind,
    Availability,
    ModelState,
    ModelStatus,
    NoModelAvailableError,
    RouterState,
    RoutingRequest,
    UnknownModelError,
    UnsupportedInputError,
    route,
)

FREE = ["nvidia/nemotron-3-ultra-550b-a55b:free", "stepfun/step-3.7-flash:free",
        "poolside/laguna-m.1:free", "google/gemma-4-26b-a4b-it:free", "openrouter/free"]


def down(*models: str, now: float = 100.0) -> Availability:
    return Availability({m: ModelStatus(ModelState.UNAVAILABLE) for m in models}, now=now)


def test_unavailable_primary_moves_to_first_available_fallback(config):
    state = RouterState(config, down("anthropic/claude-opus-4.7"))
    d = route(RoutingRequest("kilo-auto/frontier", mode="plan"), state)
    assert d.model == "anthropic/claude-sonnet-4.6"
    assert "anthropic/claude-opus-4.7" not in d.chain
    assert any("skip anthropic/claude-opus-4.7: unavailable" in r for r in d.reason)


def test_cooling_down_until_later_is_skipped_and_back_after(config):
    cooling = {"anthropic/claude-opus-4.7": ModelStatus(ModelState.COOLING_DOWN, until=130.0)}
    early = route(RoutingRequest("kilo-auto/frontier", mode="plan"), RouterState(config, Availability(cooling, 100.0)))
    late = route(RoutingRequest("kilo-auto/frontier", mode="plan"), RouterState(config, Availability(cooling, 130.0)))
    assert early.model != "anthropic/claude-opus-4.7"
    assert any("cooling down for 30s" in r for r in early.reason)
    assert late.model == "anthropic/claude-opus-4.7"


@pytest.mark.parametrize("keep", FREE)
def test_free_never_fails_while_one_candidate_is_up(config, keep):
    state = RouterState(config, down(*(m for m in FREE if m != keep)))
    for session in ("a", "b", "c", "d"):
        assert route(RoutingRequest("kilo-auto/free", session_id=session), state).model == keep


def test_free_with_nothing_available_raises_a_typed_error(config):
    with pytest.raises(NoModelAvailableError) as err:
        route(RoutingRequest("kilo-auto/free"), RouterState(config, down(*FREE)))
    assert err.value.code == "no_free_models_available"
    assert err.value.status == 503


def test_small_tier_error_names_the_tier(config):
    small = ["google/gemma-4-26b-a4b-it:free", "stepfun/step-3.7-flash:free", "openrouter/free"]
    with pytest.raises(NoModelAvailableError) as err:
        route(RoutingRequest("kilo-auto/small"), RouterState(config, down(*small)))
    assert err.value.code == "no_small_models_available"


def test_context_window_excludes_small_models(state):
    # Haiku has 200k; sonnet 1M. Messages route: sonnet then haiku.
    d = route(RoutingRequest("kilo-auto/balanced", api_kind=ApiKind.MESSAGES, estimated_prompt_tokens=500_000), state)
    assert d.model == "anthropic/claude-sonnet-4.6"
    assert "anthropic/claude-haiku-4.5" not in d.chain


def test_context_window_all_too_small_largest_wins(state):
    d = route(RoutingRequest("kilo-auto/open", mode="plan", estimated_prompt_tokens=5_000_000), state)
    assert d.chain == ("moonshotai/kimi-k2.5",)  # 262,144 beats deepseek 163,840 and minimax 204,800
    assert any("largest window wins" in r for r in d.reason)


def test_unknown_window_is_not_excluded(state):
    # qwen3.6-plus has a null window: it is kept, not guessed away.
    d = route(RoutingRequest("kilo-auto/balanced", estimated_prompt_tokens=900_000), state)
    assert d.model == "qwen/qwen3.6-plus"


def test_image_input_skips_models_without_vision(state):
    d = route(RoutingRequest("kilo-auto/open", mode="code", required_modalities=frozenset({"image"})), state)
    assert d.model == "moonshotai/kimi-k2.5"


def test_image_input_with_no_vision_model_is_a_clear_error(config):
    only_text = down("moonshotai/kimi-k2.5")
    with pytest.raises((UnsupportedInputError, NoModelAvailableError)):
        route(RoutingRequest("kilo-auto/open", required_modalities=frozenset({"image"})), RouterState(config, only_text))


def test_unknown_model_is_404_with_code(state):
    with pytest.raises(UnknownModelError) as err:
        route(RoutingRequest("kilo-auto/turbo"), state)
    assert (err.value.code, err.value.status) == ("model_not_found", 404)


def test_small_paid_account_when_paid_model_down_uses_free(config):
    state = RouterState(config, down("google/gemma-4-31b-it"))
    d = route(RoutingRequest("kilo-auto/small", account=Account(True, 3.0)), state)
    assert d.model == "google/gemma-4-26b-a4b-it:free"
