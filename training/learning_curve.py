"""Learning curve: validation accuracy against the number of training labels.

Nested random subsets of the training rows (same seed), heads refitted with the C chosen
by cross-validation, scored on the full validation split.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from classifier.heads import Heads, LinearHead
from training.fit import fit_logistic

FRACTIONS = (0.1, 0.2, 0.35, 0.5, 0.75, 1.0)


def learning_curve(
    x_train: np.ndarray,
    y_route: np.ndarray,
    y_diff: np.ndarray,
    x_val: np.ndarray,
    score: Any,
    route_labels: list[str],
    diff_labels: list[str],
    c_route: float,
    c_diff: float,
    class_weight: str | None = None,
    fractions: tuple[float, ...] = FRACTIONS,
    seed: int = 0,
    progress: bool = True,
) -> list[dict[str, float]]:
    """Points {n_train, route_key_accuracy, task_type_accuracy, difficulty_accuracy}.

    `score(heads, x_val)` returns the metrics dict of training.evaluate for those heads.
    """
    order = np.random.default_rng(seed).permutation(len(y_route))
    points = []
    for frac in tqdm(fractions, desc="learning curve", leave=False, disable=not progress):
        idx = order[: max(2, int(round(frac * len(order))))]
        wr, br = fit_logistic(x_train[idx], y_route[idx], len(route_labels), c_route, class_weight)
        wd, bd = fit_logistic(x_train[idx], y_diff[idx], len(diff_labels), c_diff, class_weight)
        heads = Heads(LinearHead(wr, br, route_labels), LinearHead(wd, bd, diff_labels))
        m = score(heads, x_val)
        points.append(
            {
                "fraction": frac,
                "n_train": int(len(idx)),
                **{k: float(m[k]) for k in ("route_key_accuracy", "task_type_accuracy", "difficulty_accuracy")},
            }
        )
    return points


def verdict(points: list[dict[str, float]], threshold: float = 0.01) -> str:
    """Gain per doubling of labels over the last half of the curve, in words."""
    if len(points) < 2:
        return "too few points for a verdict"
    last = points[-1]
    half = min(points, key=lambda p: abs(p["n_train"] - last["n_train"] / 2))
    if half is last or half["n_train"] == last["n_train"]:
        return "too few points for a verdict"
    doublings = float(np.log2(last["n_train"] / half["n_train"]))
    gains = {
        k: (last[k] - half[k]) / doublings for k in ("route_key_accuracy", "task_type_accuracy", "difficulty_accuracy")
    }
    text = ", ".join(f"{k.replace('_accuracy', '')} {v:+.3f}" for k, v in gains.items())
    if max(gains["route_key_accuracy"], gains["task_type_accuracy"]) >= threshold:
        return f"still rising: more labels would help (gain per doubling: {text})"
    return f"flattening: more labels of the same kind would help little (gain per doubling: {text})"


def write_learning_curve(points: list[dict[str, float]], folder: Path) -> tuple[Path, Path]:
    from matplotlib.figure import Figure  # no pyplot: leaves the caller's backend alone

    folder.mkdir(parents=True, exist_ok=True)
    js = folder / "learning_curve.json"
    js.write_text(json.dumps({"points": points, "verdict": verdict(points)}, indent=2) + "\n")
    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    n = [p["n_train"] for p in points]
    for key in ("task_type_accuracy", "route_key_accuracy", "difficulty_accuracy"):
        ax.plot(n, [p[key] for p in points], marker="o", label=key.replace("_accuracy", ""))
    ax.set_xscale("log")
    ax.set_xlabel("training labels")
    ax.set_ylabel("validation accuracy")
    ax.set_title("Learning curve")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    png = folder / "learning_curve.png"
    fig.savefig(png, dpi=110)
    return js, png
