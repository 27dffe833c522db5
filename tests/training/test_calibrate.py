"""`autotier calibrate`: the bar it sets sends the target share of held-out traffic to the
strongest model (within 2 points), or keeps the target share of its quality."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import yaml

from router import load_config
from router.accuracy import cell_key
from router.efficient import Scored
from router.strategies import Scoring, score_candidates
from tests.support.config_copy import copy_config
from tests.support.tables import table_for
from training.calibrate import bisect_bar, calibrate, evaluate, strongest, write_bar

MODELS = ["anthropic/claude-opus-4.7", "anthropic/claude-sonnet-4.6", "openai/gpt-5.4-mini",
          "deepseek/deepseek-v3.2"]
ROUTE_KEYS = ["implementation/code_generation", "debugging/bug_fixing", "planning_design/system_design",
              "investigation/codebase_understanding", "refactoring/code_cleanup", "agentic_execution/tool_usage"]
LEVELS = ["low", "medium", "high"]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A copy of the shipped config whose efficient tier uses a seeded hand-made table."""
    rng = np.random.default_rng(7)
    cells = [cell_key(r, d) for r in ROUTE_KEYS for d in LEVELS]
    strength = {m: s for m, s in zip(MODELS, [0.85, 0.8, 0.65, 0.6], strict=True)}
    lower = {m: {c: float(np.clip(strength[m] - 0.15 * LEVELS.index(c.split("|")[1]) + rng.normal(0, 0.05), 0, 1))
                 for c in cells} for m in MODELS}
    folder = copy_config(tmp_path_factory.mktemp("calibrate"))
    (folder / "accuracy" / "hand.json").write_text(
        table_for(MODELS, cells, lower, {m: strength[m] - 0.15 for m in MODELS}).model_dump_json())
    tiers = yaml.safe_load((folder / "tiers.yaml").read_text())
    tiers["tiers"]["efficient"].update(candidates=MODELS, table="accuracy/hand.json")
    (folder / "tiers.yaml").write_text(yaml.safe_dump(tiers, sort_keys=False))
    config = load_config(folder)
    return config, config.tiers.tiers["efficient"]


def random_traffic(config, tier, n: int, seed: int) -> list[Scoring]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        route = rng.dirichlet(np.full(len(ROUTE_KEYS), 0.3))
        level = rng.dirichlet(np.full(len(LEVELS), 0.5))
        prediction = {"route_probs": dict(zip(ROUTE_KEYS, route, strict=True)),
                      "difficulty_probs": dict(zip(LEVELS, level, strict=True))}
        out.append(score_candidates(tier, config, tier.candidates, prediction, int(rng.integers(100, 20_000))))
    return out


@pytest.mark.parametrize("kind", ["relative", "absolute", "margin"])
@pytest.mark.parametrize("target", [0.2, 0.5, 0.8])
def test_strong_share_carries_over_to_held_out_traffic(setup, kind, target):
    config, tier = setup
    strong = strongest(tier, config)
    assert strong == "anthropic/claude-opus-4.7"
    fit, held = random_traffic(config, tier, 3000, seed=1), random_traffic(config, tier, 3000, seed=2)
    bar = calibrate(fit, tier, strong, kind, strong_share=target)
    assert evaluate(fit, tier, strong, kind, bar).strong_share == pytest.approx(target, abs=0.005)
    assert evaluate(held, tier, strong, kind, bar).strong_share == pytest.approx(target, abs=0.02)


def test_quality_share_target(setup):
    config, tier = setup
    strong = strongest(tier, config)
    fit, held = random_traffic(config, tier, 3000, seed=3), random_traffic(config, tier, 3000, seed=4)
    bar = calibrate(fit, tier, strong, "relative", quality_share=0.95)
    achieved = evaluate(held, tier, strong, "relative", bar)
    assert achieved.quality_share == pytest.approx(0.95, abs=0.02)
    cheaper = evaluate(held, tier, strong, "relative", bar * 0.9)
    assert cheaper.mean_cost_usd < achieved.mean_cost_usd  # a looser bar saves money


def test_bisection_finds_the_smallest_bar_reaching_the_target():
    assert bisect_bar(lambda b: b, 0.3) == pytest.approx(0.3, abs=1e-9)
    assert bisect_bar(lambda b: float(b >= 0.6), 1.0) == pytest.approx(0.6, abs=1e-9)
    assert bisect_bar(lambda b: 0.0, 0.5) == 1.0  # unreachable: the strictest bar


def test_evaluate_counts_by_hand():
    class Tier:
        selection = "cost_per_accuracy"

    a = Scoring((Scored("s", 0.9, 1.0), Scored("w", 0.8, 0.1)), 0, 0, True)
    b = Scoring((Scored("s", 0.9, 1.0), Scored("w", 0.5, 0.1)), 0, 0, True)
    out = evaluate([a, b], Tier(), "s", "relative", 0.8)  # type: ignore[arg-type]
    # a: w (0.8 >= 0.72) is cheapest adequate; b: w (0.5) misses, s serves
    assert (out.strong_share, out.quality_share, out.mean_cost_usd) == (0.5, pytest.approx(1.7 / 1.8), 0.55)


def test_write_bar_keeps_comments(tmp_path):
    folder = copy_config(tmp_path)
    before = (folder / "tiers.yaml").read_text()
    write_bar(folder / "tiers.yaml", "efficient", "absolute", 0.6123)
    after = (folder / "tiers.yaml").read_text()
    assert after.count("\n") == before.count("\n") and after.count("#") == before.count("#")
    bar = load_config(folder).tiers.tiers["efficient"].quality_bar
    assert (bar.kind, bar.value) == ("absolute", 0.6123)


def test_cli_round_trip_with_the_shipped_classifier(tmp_path):
    folder = copy_config(tmp_path / "data")
    prompts = [
        "Fix the off-by-one error in this loop: for i in range(len(xs)+1): print(xs[i])",
        "Design a rate limiter service for a multi-region API gateway; discuss consistency.",
        "Write a Python function that parses ISO dates.",
        "Explain what this regex does: ^(?:[a-z0-9]+\\.)*example\\.com$",
        "Run the test suite and tell me which tests fail.",
        "Rename `foo` to `parse_header` across the module and update the docstrings.",
    ] * 5
    sample = tmp_path / "traffic.jsonl"
    sample.write_text("".join(json.dumps({"prompt": p, "id": i}) + "\n" for i, p in enumerate(prompts)))
    run = subprocess.run(
        [sys.executable, "-m", "router.cli", "calibrate", "--input", str(sample), "--strong-share", "0.5",
         "--data-dir", str(folder), "--write"],
        capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["written"] and report["calibration"]["n"] == 21 and report["holdout"]["n"] == 9
    bar = load_config(folder).tiers.tiers["efficient"].quality_bar
    assert bar.value == pytest.approx(report["quality_bar"]["value"], abs=1e-4)

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "ok"}\n{not json\n')
    run = subprocess.run([sys.executable, "-m", "router.cli", "calibrate", "--input", str(bad),
                          "--strong-share", "0.5", "--data-dir", str(folder)], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 2 and "bad.jsonl:2" in run.stderr
