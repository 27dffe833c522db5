"""The aggregate boards: per-model rates with no per-item outcomes (Aider polyglot,
WildBench). They inform priors and notes of the accuracy tables, never cells."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import yaml

from training.outcomes import raw_file

AIDER_POLYGLOT = "aider/polyglot_leaderboard.yml"


def aider_polyglot(root: Path) -> dict[str, float]:
    """Aider polyglot `model` -> pass_rate_2 as a fraction; a name listed twice is left out
    (ambiguous)."""
    rows = yaml.safe_load(raw_file(root / AIDER_POLYGLOT).read_text(encoding="utf-8"))
    names = Counter(r["model"] for r in rows)
    return {r["model"]: float(r["pass_rate_2"]) / 100 for r in rows if names[r["model"]] == 1}


WILDBENCH = "wildbench/all_stat_wildbench.-1.json"


def wildbench_scores(root: Path, categories: tuple[str, ...]) -> dict[str, tuple[float, ...]]:
    """WildBench model -> its WB scores for `categories` (models missing one are left out)."""
    data = json.loads(raw_file(root / WILDBENCH).read_text(encoding="utf-8"))
    out = {}
    for model, stats in data.items():
        vals = [stats.get(f"WB_score.{c}") for c in categories]
        if all(isinstance(v, (int, float)) for v in vals):
            out[model] = tuple(float(v) for v in vals)  # type: ignore[arg-type]
    return out
