"""Every mapping of the tier seeds, one row each."""

from __future__ import annotations

import pytest

from router import Account, ApiKind, RoutingRequest, route

OPUS = "anthropic/claude-opus-4.7"
SONNET = "anthropic/claude-sonnet-4.6"
ANON = Account()
PAID = Account(authenticated=True, balance=10.0)
BROKE = Account(authenticated=True, balance=0.0)

FRONTIER_MODES = [
    ("plan", OPUS), ("general", OPUS), ("architect", OPUS), ("orchestrator", OPUS),
    ("ask", OPUS), ("debug", OPUS), ("claw", OPUS),
    ("build", SONNET), ("explore", SONNET), ("code", SONNET),
    ("something-new", SONNET), (None, SONNET), ("", SONNET),
    ("PLAN", OPUS), (" code ", SONNET),
]


@pytest.mark.parametrize(("mode", "model"), FRONTIER_MODES)
@pytest.mark.parametrize("api", list(ApiKind))
def test_frontier_by_mode(state, mode, model, api):
    d = route(RoutingRequest("kilo-auto/frontier", api_kind=api, mode=mode, account=PAID), state)
    assert (d.tier, d.model) == ("frontier", model)


@pytest.mark.parametrize(("api", "params"), [
    (ApiKind.CHAT, {"reasoning": {"effort": "medium"}, "verbosity": "medium"}),
    (ApiKind.RESPONSES, {"reasoning": {"effort": "medium"}, "text": {"verbosity": "medium"}}),
    (ApiKind.MESSAGES, {"thinking": {"type": "adaptive"}, "output_config": {"effort": "medium"}}),
])
def test_frontier_params_per_api(state, api, params):
    d = route(RoutingRequest("kilo-auto/frontier", api_kind=api, mode="plan"), state)
    assert d.params == params


@pytest.mark.parametrize(("api", "model", "params"), [
    (ApiKind.CHAT, "qwen/qwen3.6-plus", {"reasoning": {"enabled": True}}),
    (ApiKind.RESPONSES, "openai/gpt-5.5", {"reasoning": {"effort": "low"}}),
    (ApiKind.MESSAGES, SONNET, {"thinking": {"type": "adaptive"}, "output_config": {"effort": "low"}}),
])
def test_balanced_by_api(state, api, model, params):
    d = route(RoutingRequest("kilo-auto/balanced", api_kind=api, mode="plan"), state)
    assert (d.tier, d.model, d.params) == ("balanced", model, params)


@pytest.mark.parametrize(("account", "model"), [
    (PAID, "google/gemma-4-31b-it"),
    (BROKE, "google/gemma-4-26b-a4b-it:free"),
    (ANON, "google/gemma-4-26b-a4b-it:free"),
    (Account(authenticated=False, balance=50.0), "google/gemma-4-26b-a4b-it:free"),
])
def test_small_by_balance(state, account, model):
    d = route(RoutingRequest("kilo-auto/small", mode="title", account=account), state)
    assert (d.tier, d.model) == ("small", model)
    assert d.fallbacks and all(state.config.catalog[m].free for m in d.fallbacks)


@pytest.mark.parametrize(("mode", "model"), [
    ("plan", "moonshotai/kimi-k2.5"), ("architect", "moonshotai/kimi-k2.5"),
    ("debug", "moonshotai/kimi-k2.5"), ("code", "minimax/minimax-m2.7"),
    ("build", "minimax/minimax-m2.7"), (None, "minimax/minimax-m2.7"),
])
def test_open_by_mode_only_open_weights(state, mode, model):
    d = route(RoutingRequest("kilo-auto/open", mode=mode), state)
    assert (d.tier, d.model) == ("open", model)
    assert all(state.config.catalog[m].open_weight for m in d.chain)


@pytest.mark.parametrize("requested", [
    "kilo-auto/free", "kilo/auto-free", "kilo/kilo-auto/free", "KILO-AUTO/FREE",
])
def test_free_spellings(state, requested):
    d = route(RoutingRequest(requested, session_id="s"), state)
    assert d.tier == "free" and d.free
    assert all(state.config.catalog[m].free for m in d.chain)
    assert d.chain[-1] == "openrouter/free"


@pytest.mark.parametrize(("requested", "account", "tier"), [
    ("kilo/auto", ANON, "frontier"),
    ("kilo-auto/frontier", ANON, "frontier"),
    ("kilo/auto-balanced", ANON, "balanced"),
    ("kilo-auto/open", ANON, "open"),
    ("kilo-auto/small", ANON, "small"),
    ("kilo-auto/efficient", ANON, "efficient"),
    (None, PAID, "frontier"),
    (None, BROKE, "free"),
    (None, ANON, "free"),
    ("", PAID, "frontier"),
    ("auto", PAID, "frontier"),
    ("kilo-auto", ANON, "free"),
])
def test_aliases_and_defaults(state, requested, account, tier):
    assert route(RoutingRequest(requested, account=account), state).tier == tier


@pytest.mark.parametrize("model_id", ["openai/gpt-5.4", "x-ai/grok-4", "openrouter/free"])
def test_catalog_id_passes_through(state, model_id):
    d = route(RoutingRequest(model_id, mode="plan"), state)
    assert (d.tier, d.model, d.fallbacks, d.params) == (None, model_id, (), {})


def test_every_tier_model_is_in_the_catalog(config, state):
    for name in config.tiers.tiers:
        d = route(RoutingRequest(f"kilo-auto/{name}", account=PAID, session_id="x"), state)
        assert all(m in config.catalog for m in d.chain)
