"""Evaluation on the validation split: accuracy, macro-F1, per-class and per-source tables,
expected calibration error, confusion-matrix plots and decision latency."""

from __future__ import annotations

import os
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import f1_score, precision_recall_fscore_support

from classifier.model import Classifier
from training.dataset import Example


def expected_calibration_error(probs: np.ndarray, y: np.ndarray, bins: int = 15) -> float:
    """ECE of the top-class confidence: sum over equal-width bins of |acc - conf| x share."""
    if len(y) == 0:
        return 0.0
    conf = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == y).astype(np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        mask = (conf > lo) & (conf <= hi)
        if mask.any():
            ece += mask.mean() * abs(correct[mask].mean() - conf[mask].mean())
    return float(ece)


def _scores(y_true: list[str], y_pred: list[str]) -> dict[str, float]:
    if not y_true:
        return {"accuracy": 0.0, "macro_f1": 0.0}
    labels = sorted(set(y_true))
    acc = float(np.mean([a == b for a, b in zip(y_true, y_pred, strict=True)]))
    f1 = f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)
    return {"accuracy": acc, "macro_f1": float(f1)}


def per_class_table(y_true: list[str], y_pred: list[str]) -> list[dict[str, Any]]:
    labels = sorted(set(y_true) | set(y_pred))
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    return [
        {"label": lab, "precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
        for i, lab in enumerate(labels)
    ]


def evaluate(clf: Classifier, examples: list[Example], x: np.ndarray | None = None) -> dict[str, Any]:
    """Scores of `clf` on examples (features `x` may be given to skip featurisation)."""
    if x is None:
        x = clf.features([e.request for e in examples]) if examples else None
    if not examples or x is None:
        return {"n": 0}
    rp, dp = clf.predict_proba(x)
    preds = [clf.decode(rp[i], dp[i]) for i in range(len(examples))]
    truth = {
        "route_key": [e.route_key for e in examples],
        "task_type": [e.task_type for e in examples],
        "difficulty": [e.difficulty for e in examples],
    }
    guess = {
        "route_key": [p.route_key for p in preds],
        "task_type": [p.task_type for p in preds],
        "difficulty": [p.difficulty for p in preds],
    }
    metrics: dict[str, Any] = {"n": len(examples)}
    for axis in truth:
        for k, v in _scores(truth[axis], guess[axis]).items():
            metrics[f"{axis}_{k}"] = v
    y_route = np.array([clf.route_keys.index(k) for k in truth["route_key"]])
    y_diff = np.array([clf.difficulties.index(k) for k in truth["difficulty"]])
    y_type = np.array([clf.task_types.index(k) for k in truth["task_type"]])
    metrics["route_key_ece"] = expected_calibration_error(rp, y_route)
    metrics["difficulty_ece"] = expected_calibration_error(dp, y_diff)
    metrics["task_type_ece"] = expected_calibration_error(rp @ clf._group, y_type)
    per_source: dict[str, dict[str, Any]] = defaultdict(dict)
    by_source: dict[str, list[int]] = defaultdict(list)
    for i, e in enumerate(examples):
        by_source[e.source].append(i)
    for src, idx in sorted(by_source.items()):
        per_source[src]["n"] = len(idx)
        for axis in truth:
            per_source[src][f"{axis}_accuracy"] = float(np.mean([truth[axis][i] == guess[axis][i] for i in idx]))
    tables = {axis: per_class_table(truth[axis], guess[axis]) for axis in truth}
    return {
        "metrics": metrics,
        "per_source": dict(per_source),
        "per_class": tables,
        "truth": truth,
        "pred": guess,
        "confidence": [p.confidence for p in preds],
    }


def evaluate_shapes(
    clf: Classifier, sets: dict[str, list[Example]]
) -> tuple[dict[str, dict[str, Any]], dict[str, Any], list[Example]]:
    """(metrics per shape, metrics pooled over every shape, the pooled rows).

    The pooled rows are the shaped validation set the promotion gate scores.
    """
    per: dict[str, dict[str, Any]] = {}
    xs, rows = [], []
    for name, examples in sets.items():
        x = clf.features([e.request for e in examples])
        per[name] = evaluate(clf, examples, x)["metrics"]
        xs.append(x)
        rows.extend(examples)
    pooled = evaluate(clf, rows, np.concatenate(xs))["metrics"]
    return per, pooled, rows


def plot_confusion(truth: list[str], pred: list[str], labels: list[str], path: Path, title: str) -> None:
    """Row-normalised confusion matrix (rows: true label) as a PNG."""
    from matplotlib.figure import Figure  # no pyplot: leaves the caller's backend alone

    idx = {lab: i for i, lab in enumerate(labels)}
    m = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for t, p in zip(truth, pred, strict=True):
        m[idx[t], idx[p]] += 1
    norm = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
    size = max(5.0, 0.45 * len(labels) + 2)
    fig = Figure(figsize=(size + 1, size))
    ax = fig.subplots()
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    for i in range(len(labels)):
        for j in range(len(labels)):
            if m[i, j]:
                ax.text(
                    j,
                    i,
                    str(m[i, j]),
                    ha="center",
                    va="center",
                    fontsize=6,
                    color="white" if norm[i, j] > 0.5 else "black",
                )
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, fraction=0.04)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def sample_request(chars: int = 1000) -> dict[str, Any]:
    """A realistic ~`chars`-character request (an instruction plus pasted code)."""
    code = (
        "def load_config(path):\n    with open(path) as fh:\n        data = yaml.safe_load(fh)\n"
        "    for key, value in data.items():\n        if value is None:\n"
        "            raise ValueError(f'missing {key}')\n    return data\n\n"
    )
    head = (
        "The function below sometimes raises ValueError on configs that look valid to me. "
        "Can you find out why and fix it without changing the public signature?\n\n```python\n"
    )
    body = head + code * (1 + chars // len(code))
    return {"prompt": body[: chars - 4] + "\n```"}


def measure_latency(clf: Classifier, request: dict[str, Any], n: int = 1000) -> dict[str, Any]:
    """p50 / p99 / mean of clf.predict(request) in milliseconds (threads as configured)."""
    for _ in range(min(50, n)):
        clf.predict(request)
    times = np.empty(n)
    for i in range(n):
        t0 = time.perf_counter()
        clf.predict(request)
        times[i] = time.perf_counter() - t0
    ms = times * 1000
    return {
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "mean_ms": float(ms.mean()),
        "n": n,
        "request_chars": len(request.get("prompt", "")),
        "omp_threads": os.environ.get("OMP_NUM_THREADS", "unset"),
    }
