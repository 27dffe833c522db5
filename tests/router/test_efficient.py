"""The efficient tier: cheapest adequate candidate from an accuracy table, the bar and the
envelope respected, stickiness that keeps and switches as specified."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from router import RouterState, load_config, route
from router.accuracy import cell_key, joint_probs
from router.availability import Availability, ModelState, ModelStatus
from router.contract import RoutingRequest
from router.efficient import Scored, select, threshold
from router.errors import ConfigError
from tests.support.config_copy import copy_config
from tests.support.tables import table_for

OPUS, SONNET, HAIKU = "anthropic/claude-opus-4.7", "anthropic/claude-sonnet-4.6", "anthropic/claude-haiku-4.5"
DEEPSEEK, KIMI, GEMMA = "deepseek/deepseek-v3.2", "moonshotai/kimi-k2.5", "google/gemma-4-31b-it"
HARD, EASY = cell_key("debugging/bug_fixing", "high"), cell_key("debugging/bug_fixing", "low")
PLAN = cell_key("planning_design/system_design", "high")

# Hand-made table: every model is fine on easy bug fixes; only the big ones on hard ones.
LOWER = {
    OPUS: {HARD: 0.80, EASY: 0.95, PLAN: 0.85},
    SONNET: {HARD: 0.78, EASY: 0.94, PLAN: 0.70},
    HAIKU: {HARD: 0.55, EASY: 0.92, PLAN: 0.50},
    DEEPSEEK: {HARD: 0.50, EASY: 0.91, PLAN: 0.45},
    KIMI: {HARD: 0.60, EASY: 0.90, PLAN: 0.55},
    GEMMA: {HARD: 0.30, EASY: 0.80, PLAN: 0.30},
}
OVERALL = {OPUS: 0.8, SONNET: 0.74, HAIKU: 0.6, DEEPSEEK: 0.55, KIMI: 0.6, GEMMA: 0.4}


def classification(route_key: str, difficulty: str, p: float = 1.0) -> dict:
    return {"route_key": route_key, "difficulty": difficulty, "confidence": p,
            "route_probs": {route_key: p}, "difficulty_probs": {difficulty: 1.0}}


HARD_BUG = classification("debugging/bug_fixing", "high")
EASY_BUG = classification("debugging/bug_fixing", "low")
HARD_PLAN = classification("planning_design/system_design", "high")


def write_config(folder: Path, **tier_changes) -> Path:
    copy_config(folder)
    table = table_for(list(LOWER), [HARD, EASY, PLAN], LOWER, OVERALL)
    (folder / "accuracy" / "hand.json").write_text(table.model_dump_json())
    tiers = yaml.safe_load((folder / "tiers.yaml").read_text())
    tier = tiers["tiers"]["efficient"]
    tier.update(candidates=[OPUS, SONNET, HAIKU, DEEPSEEK], table="accuracy/hand.json",
                quality_bar={"kind": "absolute", "value": 0.75})
    tier.update(tier_changes)
    (folder / "tiers.yaml").write_text(yaml.safe_dump(tiers, sort_keys=False))
    return folder


@pytest.fixture
def hand_state(tmp_path):
    return RouterState(load_config(write_config(tmp_path)))


def efficient(state, cls=None, **kwargs):
    return route(RoutingRequest("kilo-auto/efficient", classification=cls, estimated_prompt_tokens=1000,
                                **kwargs), state)


# ---- selection on hand-made tables ---------------------------------------------------
def test_easy_work_goes_to_the_cheapest_adequate_model(hand_state):
    d = efficient(hand_state, EASY_BUG)
    assert d.model == DEEPSEEK  # all four clear 0.75 on easy bug fixes; DeepSeek is cheapest
    assert d.details["threshold"] == 0.75
    assert [c["model"] for c in d.details["candidates"]] == [DEEPSEEK, OPUS, SONNET, HAIKU]


def test_hard_work_needs_a_model_that_clears_the_bar(hand_state):
    d = efficient(hand_state, HARD_BUG)
    assert d.model == SONNET  # Opus and Sonnet clear 0.75; Sonnet is cheaper
    assert d.fallbacks == (OPUS, HAIKU, DEEPSEEK)  # by expected accuracy
    line = d.reason[-1]
    assert "debugging/bug_fixing" in d.reason[-2] and "difficulty high" in d.reason[-2]
    assert f"{SONNET} (expected accuracy 0.780" in line and f"runner-up {OPUS}" in line


def test_nothing_adequate_gives_the_most_accurate(tmp_path):
    state = RouterState(load_config(write_config(tmp_path, quality_bar={"kind": "absolute", "value": 0.99})))
    d = efficient(state, HARD_PLAN)
    assert d.model == OPUS and "no candidate meets the bar: most accurate" in d.reason[-1]


def _fresh() -> Path:
    import tempfile

    return Path(tempfile.mkdtemp(prefix="autotier-efficient-"))


def test_relative_bar_is_a_share_of_the_best(tmp_path):
    state = RouterState(load_config(write_config(tmp_path, quality_bar={"kind": "relative", "value": 0.7})))
    d = efficient(state, HARD_BUG)
    # best 0.80 -> bar 0.56: Kimi is not a candidate; Haiku (0.55) misses, Sonnet (0.78) is cheapest above
    assert d.details["threshold"] == pytest.approx(0.56)
    assert d.model == SONNET
    state = RouterState(load_config(write_config(_fresh(), quality_bar={"kind": "relative", "value": 0.6})))
    assert efficient(state, HARD_BUG).model == DEEPSEEK  # bar 0.48: DeepSeek's 0.50 clears


def test_best_accuracy_mode_ignores_cost(tmp_path):
    state = RouterState(load_config(write_config(tmp_path, selection="best_accuracy")))
    assert efficient(state, EASY_BUG).model == OPUS


def test_expected_accuracy_mixes_cells_by_probability(tmp_path):
    state = RouterState(load_config(write_config(tmp_path, low_gate=None)))
    mixed = {"route_probs": {"debugging/bug_fixing": 1.0}, "difficulty_probs": {"low": 0.5, "high": 0.5}}
    d = efficient(state, mixed)
    scores = {c["model"]: c["expected_accuracy"] for c in d.details["candidates"]}
    assert scores[HAIKU] == pytest.approx((0.55 + 0.92) / 2, abs=1e-4)
    assert d.model == SONNET  # 0.86 clears 0.75; Haiku's 0.735 and DeepSeek's 0.705 do not


def test_low_gate_judges_unsure_requests_on_the_harder_cells(tmp_path):
    state = RouterState(load_config(write_config(tmp_path, low_gate=0.7)))
    unsure = {"route_probs": {"debugging/bug_fixing": 1.0}, "difficulty_probs": {"low": 0.6, "high": 0.4}}
    d = efficient(state, unsure)
    scores = {c["model"]: c["expected_accuracy"] for c in d.details["candidates"]}
    assert scores[HAIKU] == pytest.approx(0.55)  # P(low) 0.6 < 0.7: judged on the high cell
    assert d.model == SONNET and "judged on medium/high cells (P(low) 0.60 < gate 0.7)" in d.reason[-2]
    assert d.details["estimated_tokens"]["output"] == round(0.6 * 500 + 0.4 * 4000)  # cost: own probabilities
    sure = {"route_probs": {"debugging/bug_fixing": 1.0}, "difficulty_probs": {"low": 0.8, "high": 0.2}}
    d = efficient(state, sure)
    assert {c["model"]: c["expected_accuracy"] for c in d.details["candidates"]}[DEEPSEEK] == pytest.approx(0.91)
    assert d.model == DEEPSEEK and "judged as low-difficulty work" in d.reason[-2]


def test_judged_difficulty_without_a_gate_or_harder_mass_is_the_classifiers():
    from router.strategies import judged_difficulty

    probs = {"low": 0.5, "medium": 0.3, "high": 0.2}
    assert judged_difficulty(probs, None) == probs
    assert judged_difficulty(probs, 0.5) == {"low": 1.0}
    assert judged_difficulty(probs, 0.7) == pytest.approx({"medium": 0.6, "high": 0.4})
    assert judged_difficulty({"low": 0.5}, 0.7) == {"low": 0.5}


def test_no_classification_uses_overall_rates(hand_state):
    d = efficient(hand_state, None)
    assert {c["model"]: c["expected_accuracy"] for c in d.details["candidates"]}[OPUS] == 0.8
    assert d.model == OPUS  # only Opus' overall 0.8 clears 0.75
    assert "no classification" in d.reason[1]


def test_unavailable_winner_gives_the_next_cheapest_adequate(hand_state):
    cooling = Availability({SONNET: ModelStatus(ModelState.UNAVAILABLE)})
    d = route(RoutingRequest("kilo-auto/efficient", classification=HARD_BUG), RouterState(hand_state.config, cooling))
    assert d.model == OPUS and SONNET not in d.chain
    assert any(f"skip {SONNET}" in line for line in d.reason)


def test_cost_grows_with_predicted_difficulty(hand_state):
    easy = efficient(hand_state, EASY_BUG).details["estimated_tokens"]["output"]
    hard = efficient(hand_state, HARD_BUG).details["estimated_tokens"]["output"]
    assert (easy, hard) == (500, 4000)


# ---- the envelope ---------------------------------------------------------------------
def test_open_weight_efficient_variant_is_a_config_change(tmp_path):
    folder = write_config(tmp_path)
    tiers = yaml.safe_load((folder / "tiers.yaml").read_text())
    tiers["tiers"]["efficient-open"] = {**tiers["tiers"]["efficient"], "open_weight_only": True,
                                        "candidates": [DEEPSEEK, KIMI, GEMMA]}
    (folder / "tiers.yaml").write_text(yaml.safe_dump(tiers, sort_keys=False))
    state = RouterState(load_config(folder))
    d = route(RoutingRequest("kilo-auto/efficient-open", classification=HARD_BUG), state)
    assert set(d.chain) == {DEEPSEEK, KIMI, GEMMA}
    assert d.model == KIMI  # nobody clears 0.75 on hard bugs: the most accurate open model

    tiers["tiers"]["efficient-open"]["candidates"].append(SONNET)
    (folder / "tiers.yaml").write_text(yaml.safe_dump(tiers, sort_keys=False))
    with pytest.raises(ConfigError) as err:
        load_config(folder)
    assert "tiers.efficient-open.candidates[3]: 'anthropic/claude-sonnet-4.6' is not open-weight" in str(err.value)


# ---- stickiness -----------------------------------------------------------------------
def test_a_much_cheaper_adequate_model_wins_over_the_previous_one(hand_state):
    # 1000 prompt + 500 output tokens. Sonnet stays cached (shipped share 0.9): 100 x $3 +
    # 900 x $0.30 + 500 x $15 = $0.00807 per million-scaled; DeepSeek fresh: 1000 x $0.28 +
    # 500 x $0.40 = $0.00048 -> 16.8x
    d = efficient(hand_state, EASY_BUG, previous_model=SONNET)
    assert d.model == DEEPSEEK and f"switched from {SONNET}: {DEEPSEEK} is 16.8x cheaper" in d.reason[-1]
    assert d.details["estimated_tokens"]["cached_prompt"] == 900


def test_keep_and_switch_rules_on_plain_numbers():
    a, b, c = Scored("a", 0.90, 1.00), Scored("b", 0.80, 0.80), Scored("c", 0.50, 0.10)
    # fresh pick b (cheapest >= 0.75); previous a is 1.25x dearer: within factor 1.5 -> keep a
    kept = select([a, b, c], "absolute", 0.75, previous="a", switch_cost_factor=1.5)
    assert kept.winner == a and kept.why.startswith("kept a from the previous turn")
    assert [s.model for s in kept.fallbacks] == ["b", "c"]
    # factor 1.2: b is 1.25x cheaper, more than 1.2 -> switch, and say why
    moved = select([a, b, c], "absolute", 0.75, previous="a", switch_cost_factor=1.2)
    assert moved.winner == b and "switched from a: b is 1.2x cheaper" in moved.why
    # previous below the bar -> switch whatever the cost
    low = select([a, b, c], "absolute", 0.75, previous="c", switch_cost_factor=100)
    assert low.winner == b and "switched from c: below the bar" in low.why
    # previous gone -> fresh pick, and the trace says so
    gone = select([a, b, c], "absolute", 0.75, previous="z")
    assert gone.winner == b and "previous model z is not a usable candidate" in gone.why
    same = select([a, b, c], "absolute", 0.75, previous="b")
    assert same.winner == b and "same model as the previous turn" in same.why


def test_stickiness_through_route(hand_state):
    # Hard bug: fresh pick Sonnet; previous Opus costs 5/3x more, above factor 1.5 -> switch
    d = efficient(hand_state, HARD_BUG, previous_model=OPUS)
    assert d.model == SONNET and f"switched from {OPUS}" in d.reason[-1]
    state = RouterState(load_config(write_config(_fresh(), switch_cost_factor=2.0)))
    d = efficient(state, HARD_BUG, previous_model=OPUS)
    assert d.model == OPUS and f"kept {OPUS} from the previous turn" in d.reason[-1]


# ---- properties -----------------------------------------------------------------------
candidate = st.builds(
    Scored, model=st.text("abcdefgh", min_size=1, max_size=3),
    accuracy=st.floats(0, 1), cost=st.floats(0, 10),
)


@given(st.lists(candidate, min_size=1, max_size=8, unique_by=lambda s: s.model), st.floats(0.01, 1))
def test_winner_is_adequate_and_nothing_adequate_is_cheaper(scored, bar_value):
    choice = select(scored, "relative", bar_value)
    bar = threshold(scored, "relative", bar_value)
    assert choice.winner.accuracy >= bar
    assert all(s.cost >= choice.winner.cost for s in scored if s.accuracy >= bar)
    assert len(choice.fallbacks) == len(scored) - 1
    assert [s.accuracy for s in choice.fallbacks] == sorted((s.accuracy for s in choice.fallbacks), reverse=True)


def test_joint_probs_are_the_outer_product():
    probs = joint_probs({"a/x": 0.6, "b/y": 0.4}, {"low": 0.5, "high": 0.5})
    assert probs == {"a/x|low": 0.3, "a/x|high": 0.3, "b/y|low": 0.2, "b/y|high": 0.2}


def test_shipped_table_covers_every_candidate_with_flagged_evidence():
    config = load_config()
    tier = config.tiers.tiers["efficient"]
    table = config.accuracy[tier.table]
    for model in tier.candidates:
        entry = table.models[model]
        assert entry.evidence in {"measured", "proxy", "prior"}
        assert entry.evidence == "measured" or entry.note, f"{model}: a proxy or prior must say why"
    assert json.loads(json.dumps(efficient(RouterState(config), EASY_BUG).to_dict()))["tier"] == "efficient"


# ---- cost with cached-input prices ------------------------------------------------------
def test_call_cost_uses_the_cached_price_for_the_cached_share():
    from router.catalog import Pricing
    from router.strategies import call_cost

    catalog = load_config().catalog
    m = catalog[SONNET].model_copy(update={"pricing": Pricing(input=3.0, output=15.0, cache_read=0.3)})
    # 10,000 prompt tokens of which 9,000 cached, 500 output: 1000 x 3 + 9000 x 0.3 + 500 x 15 = 13,200 / 1e6
    assert call_cost(m, 10_000, 500, 9_000) == pytest.approx(0.0132)
    assert call_cost(m, 10_000, 500) == pytest.approx(0.0375)  # no cache: 30,000 + 7,500
    assert call_cost(m, 100, 0, 1_000) == pytest.approx(0.00003)  # never more cached than the prompt
    no_cache = m.model_copy(update={"pricing": Pricing(input=3.0, output=15.0)})
    assert call_cost(no_cache, 10_000, 500, 9_000) == pytest.approx(0.0375)  # no cached price: input price
    free = next(x for x in catalog if x.free)
    assert call_cost(free, 10_000, 500, 9_000) == 0.0
    assert call_cost(m.model_copy(update={"pricing": Pricing()}), 10, 10) is None


def test_only_the_previous_model_gets_the_cached_price(tmp_path):
    state = RouterState(load_config(write_config(tmp_path, cached_prompt_share=0.5)))
    d = efficient(state, HARD_BUG, previous_model=OPUS)
    costs = {c["model"]: c["cost_usd"] for c in d.details["candidates"]}
    # 1000 prompt (500 cached for Opus only) + 4000 output tokens
    assert costs[OPUS] == pytest.approx((500 * 5 + 500 * 0.5 + 4000 * 25) / 1e6)
    assert costs[SONNET] == pytest.approx((1000 * 3 + 4000 * 15) / 1e6)
    fresh = efficient(state, HARD_BUG)
    assert {c["model"]: c["cost_usd"] for c in fresh.details["candidates"]}[OPUS] == pytest.approx(
        (1000 * 5 + 4000 * 25) / 1e6)


def test_margin_bar_is_a_fixed_gap_below_the_best():
    a, b, c = Scored("a", 0.95, 10.0), Scored("b", 0.91, 1.0), Scored("c", 0.80, 0.1)
    assert threshold([a, b, c], "margin", 0.05) == pytest.approx(0.90)
    assert select([a, b, c], "margin", 0.05).winner == b  # within 0.05 of the best, cheaper than a
    assert select([a, b, c], "margin", 0.03).winner == a  # 0.04 below the best is too far
    assert select([a, b, c], "margin", 0.2).winner == c
