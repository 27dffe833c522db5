"""Policies per key and per organisation (router/policy.py, data/policies.yaml): applied
inside the pure `route()`, named in the reason trace, validated on load."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from router import Availability, ModelState, ModelStatus, RouterState, RoutingRequest, load_config, route
from router.contract import Account, ApiKind
from router.errors import ConfigError, RoutingError
from router.policy import MaxPrice, PolicyError, PolicyRules, compile_policy
from tests.support.config_copy import copy_config

CONFIG = load_config()
CATALOG = CONFIG.catalog
POLICIES = CONFIG.policies
OPEN_ONLY = POLICIES.effective(("open-weight-only",))
SPLIT = POLICIES.effective(("agents-split",))
BUDGET = POLICIES.effective(("budget",))
PAID = Account(authenticated=True, balance=10.0)

TIER_IDS = [None, "auto", "kilo/auto", *(f"kilo-auto/{name}" for name in CONFIG.tiers.tiers)]
MODES = sorted({k for t in CONFIG.tiers.tiers.values() for k in getattr(t, "keys", {})} | {"unknown"}) + [None]
CLOSED = sorted(m.id for m in CATALOG if not m.open_weight)


def _route(policy, model=None, mode=None, api=ApiKind.CHAT, account=PAID, availability=None):
    request = RoutingRequest(model, api_kind=api, mode=mode, account=account, session_id="s-1", policy=policy)
    return route(request, RouterState(CONFIG, availability or Availability()))


# ---- open-weight only ----------------------------------------------------------------------
def test_open_weight_only_never_reaches_a_closed_model_on_any_tier_mode_or_api():
    served = refused = 0
    for model, mode, api, account in itertools.product(TIER_IDS, MODES, ApiKind, (PAID, Account())):
        try:
            decision = _route(OPEN_ONLY, model, mode, api, account)
        except PolicyError as exc:
            assert "'open-weight-only'" in exc.message and exc.code == "policy_denied"
            refused += 1
            continue
        assert all(CATALOG[m].open_weight for m in decision.chain), (model, mode, api, decision.chain)
        served += 1
    # the open, free, small and efficient tiers serve; frontier (all closed) is refused
    assert served and refused


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(TIER_IDS), st.sampled_from(MODES), st.sampled_from(list(ApiKind)),
       st.sets(st.sampled_from(sorted(m.id for m in CATALOG))), st.sampled_from([None, 500, 300_000]))
def test_open_weight_only_holds_whatever_is_unavailable(model, mode, api, unavailable, tokens):
    availability = Availability({m: ModelStatus(ModelState.UNAVAILABLE) for m in unavailable})
    request = RoutingRequest(model, api_kind=api, mode=mode, account=PAID, policy=OPEN_ONLY,
                             estimated_prompt_tokens=tokens)
    try:
        decision = route(request, RouterState(CONFIG, availability))
    except RoutingError:
        return  # refused (policy, nothing available) is fine; a closed model is not
    assert not set(decision.chain) & set(CLOSED)


@pytest.mark.parametrize("model", CLOSED)
def test_a_closed_catalog_model_asked_by_id_is_refused_naming_the_policy(model):
    with pytest.raises(PolicyError, match=r"policy 'open-weight-only' does not allow .*not open-weight"):
        _route(OPEN_ONLY, model)


# ---- per-agent overrides -------------------------------------------------------------------
@pytest.mark.parametrize(("requested", "mode", "tier", "model"), [
    ("kilo-auto/frontier", "explore", "free", None),  # free tier: any free model
    ("kilo-auto/frontier", "code", "frontier", "anthropic/claude-sonnet-4.6"),
    ("kilo-auto/balanced", "code", "frontier", "anthropic/claude-sonnet-4.6"),
    ("kilo-auto/balanced", "explore", "free", None),
    (None, "explore", "free", None),
    ("kilo-auto/frontier", "plan", "frontier", "anthropic/claude-opus-4.7"),  # not overridden
    ("kilo-auto/balanced", "plan", "balanced", "qwen/qwen3.6-plus"),
    ("kilo-auto/frontier", " Explore ", "free", None),  # the mode header normalised
])
def test_agent_overrides_send_explore_to_free_and_code_to_frontier(requested, mode, tier, model):
    decision = _route(SPLIT, requested, mode)
    assert decision.tier == tier
    if model is not None:
        assert decision.model == model
    if tier == "free":
        assert decision.free and all(CATALOG[m].free for m in decision.chain)
    if tier != {"kilo-auto/frontier": "frontier", "kilo-auto/balanced": "balanced"}.get(requested, tier):
        assert any(f"policy 'agents-split': mode '{mode.strip().lower()}' -> tier {tier}" in r
                   for r in decision.reason)


def test_a_catalog_model_asked_by_id_is_not_overridden():
    decision = _route(SPLIT, "openai/gpt-5.5", "explore")
    assert decision.tier is None and decision.model == "openai/gpt-5.5"


# ---- price caps ----------------------------------------------------------------------------
def test_a_price_cap_filters_candidates_and_the_reason_says_why():
    without = _route(None, "kilo-auto/frontier", "plan")
    assert without.model == "anthropic/claude-opus-4.7"
    capped = _route(BUDGET, "kilo-auto/frontier", "plan")
    assert capped.model == "anthropic/claude-sonnet-4.6"
    assert "anthropic/claude-opus-4.7" not in capped.chain and "openai/gpt-5.5" not in capped.chain
    assert "policy 'budget': skip anthropic/claude-opus-4.7: input price 5.0 > max 3 USD/M" in capped.reason


@pytest.mark.parametrize(("cap", "kept"), [
    (MaxPrice(input=1.0), {"deepseek/deepseek-v3.2", "moonshotai/kimi-k2.5", "minimax/minimax-m2.7",
                           "google/gemini-2.5-flash", "openai/gpt-5.4-mini", "anthropic/claude-haiku-4.5",
                           "x-ai/grok-code-fast-1"}),
    (MaxPrice(output=1.2), {"deepseek/deepseek-v3.2", "minimax/minimax-m2.7"}),
])
def test_the_efficient_tier_only_weighs_models_under_the_cap(cap, kept):
    policy = compile_policy("cheap", [("cheap", PolicyRules(max_price=cap))], CATALOG)
    decision = _route(policy, "kilo-auto/efficient", "code")
    assert set(decision.chain) <= kept
    assert {c["model"] for c in decision.details["candidates"]} <= kept


@pytest.mark.parametrize(("rules", "removed", "why"), [
    (PolicyRules(max_price=MaxPrice(output=10)), "openai/gpt-5.4", "output price 15.0 > max 10 USD/M"),
    (PolicyRules(deny_providers=("openai",)), "openai/gpt-5.5", "provider openai in deny_providers"),
    (PolicyRules(allow_providers=("anthropic",)), "qwen/qwen3.6-plus", "provider qwen not in allow_providers"),
    (PolicyRules(deny_models=("x-ai/grok-4",)), "x-ai/grok-4", "in deny_models"),
    (PolicyRules(allow_models=("openai/gpt-5.5",)), "openai/gpt-5.4", "not in allow_models"),
    (PolicyRules(no_free=True), "openrouter/free", "free model"),
    (PolicyRules(no_training=True), "stepfun/step-3.7-flash:free", "provider may train on prompts"),
    (PolicyRules(no_logging=True), "anthropic/claude-opus-4.7", "provider may log prompts"),
    (PolicyRules(no_training=True, unstated_data_policy="deny"), "x-ai/grok-4", "training use not stated"),
])
def test_each_rule_removes_what_it_says(rules, removed, why):
    policy = compile_policy("p", [("p", rules)], CATALOG)
    assert not policy.allows(removed) and why in policy.why_removed(removed)
    assert policy.allowed  # every row keeps something


def test_free_models_pass_a_price_cap_and_no_training_keeps_unstated_by_default():
    policy = compile_policy("p", [("p", PolicyRules(max_price=MaxPrice(input=0.1, output=0.1)))], CATALOG)
    assert policy.allowed == {m.id for m in CATALOG if m.free}
    policy = compile_policy("p", [("p", PolicyRules(no_training=True))], CATALOG)
    assert policy.allows("x-ai/grok-4") and not policy.allows("openrouter/free")


# ---- the reason and the error name the policy ----------------------------------------------
def test_the_reason_names_the_policy_even_when_it_removes_nothing():
    decision = _route(OPEN_ONLY, "kilo-auto/open", "plan")
    assert "policy 'open-weight-only' applies" in decision.reason
    assert decision.model == "moonshotai/kimi-k2.5"


def test_a_policy_leaving_no_candidate_is_a_routing_error_naming_policy_and_tier():
    with pytest.raises(PolicyError) as caught:
        _route(OPEN_ONLY, "kilo-auto/frontier", "plan")
    err = caught.value
    assert isinstance(err, RoutingError) and err.status == 403 and err.policy == "open-weight-only"
    assert "policy 'open-weight-only' leaves no frontier model" in err.message
    assert "anthropic/claude-opus-4.7: not open-weight" in err.message


def test_no_policy_changes_nothing():
    for model, mode in itertools.product(TIER_IDS, MODES):
        assert _route(None, model, mode) == route(
            RoutingRequest(model, mode=mode, account=PAID, session_id="s-1"), RouterState(CONFIG))


# ---- combining names, organisations --------------------------------------------------------
def test_an_organisation_applies_every_policy_it_lists():
    team = POLICIES.effective(("example-team",))
    assert team.allowed == POLICIES.effective(("no-free",)).allowed & BUDGET.allowed
    decision = _route(team, "kilo-auto/frontier", "plan")
    assert decision.model == "anthropic/claude-sonnet-4.6"
    assert "policy 'example-team': skip anthropic/claude-opus-4.7: input price 5.0 > max 3 USD/M (budget)" \
        in decision.reason


def test_several_names_combine_restrictions_and_later_mode_overrides_win():
    both = POLICIES.effective(("open-weight-only", "agents-split"))
    assert both.name == "open-weight-only+agents-split" and both.allowed == OPEN_ONLY.allowed
    assert _route(both, "kilo-auto/open", "explore").tier == "free"
    assert POLICIES.effective(("open-weight-only", "agents-split")) is both  # compiled once


def test_an_unknown_name_on_a_key_is_refused_not_ignored():
    with pytest.raises(PolicyError, match="'gone' is not defined in policies.yaml") as caught:
        POLICIES.effective(("budget", "gone"))
    assert caught.value.code == "unknown_policy"
    assert POLICIES.effective(()) is None


# ---- the file ------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "problem"), [
    ("policies: {p: {modes: {explore: fre}}}", "policies.yaml: policies.p.modes.explore: unknown tier 'fre'"),
    ("policies: {p: {deny_models: [nope/x]}}", "policies.yaml: policies.p.deny_models[0]: unknown model 'nope/x'"),
    ("policies: {p: {allow_providers: [acme]}}",
     "policies.yaml: policies.p.allow_providers[0]: unknown provider 'acme'"),
    ("policies: {p: {open_weigth_only: true}}", "policies.yaml: policies.p.open_weigth_only: unknown key"),
    ("policies: {p: {max_price: {input: -1}}}", "policies.yaml: policies.p.max_price.input: must be greater"),
    ("policies: {p: {no_free: true}}\norganisations: {o: {policies: [p, q]}}",
     "policies.yaml: organisations.o.policies[1]: unknown policy 'q'"),
    ("policies: {p: {no_free: true}}\norganisations: {p: {policies: [p]}}",
     "policies.yaml: organisations.p: name already used by a policy"),
    ("policies: {p: {allow_providers: [anthropic], open_weight_only: true}}",
     "policies.yaml: policies.p: removes every catalog model"),
    ("policies: [1]", "policies.yaml: policies: must be a valid dictionary"),
])
def test_the_policies_file_is_validated_with_one_line_errors(tmp_path, text, problem):
    data = copy_config(tmp_path / "data")
    (data / "policies.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(data)
    assert any(line.startswith(problem) for line in caught.value.problems), caught.value.problems
    assert all(line.count("\n") == 0 for line in caught.value.problems)


def test_no_policies_file_means_no_policies(tmp_path):
    data = copy_config(tmp_path / "data")
    (data / "policies.yaml").unlink()
    config = load_config(data)
    assert config.policies.names() == []
    with pytest.raises(PolicyError):
        config.policies.effective(("budget",))


def test_the_shipped_file_passes_check_config():
    from router.checks import check_files
    from router.config import PACKAGE_DATA

    assert check_files([PACKAGE_DATA / "policies.yaml"]) == []


def test_route_cli_explains_a_decision_under_a_policy(capsys):
    import json

    from router.cli import main

    assert main(["route", "--model", "kilo-auto/frontier", "--mode", "plan", "--balance", "5",
                 "--policy", "budget", "--compact"]) == 0
    decision = json.loads(capsys.readouterr().out)
    assert decision["model"] == "anthropic/claude-sonnet-4.6" and "policy 'budget' applies" in decision["reason"]
    assert main(["route", "--model", "kilo-auto/frontier", "--policy", "open-weight-only"]) == 2
    assert json.loads(capsys.readouterr().err)["error"]["code"] == "policy_denied"
