"""The two routers the benchmark compares, fitted on one training fold and scored on its test fold.

- factored (production's design): a multinomial logistic head per label head on the prompt
  embedding -> label probabilities -> the accuracy table that `build_table` builds from the
  training fold's outcomes -> each model's expected accuracy
  `table.expected_accuracy(model, table.probability_vector(probs))`.
- direct (the obvious alternative): one success predictor per model on the same embedding
  (logistic regression for 0/1 outcomes, ridge regression for graded ones).
- irt (the success model's shape): abilities and item difficulties from a Rasch fit on the
  training fold, a test item's difficulty regressed from its embedding
  (`training.bench.irt_router`).

All hand their scores to the same `router.efficient.select`, in `sweep`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, Ridge

from router.accuracy import cell_key, joint_probs
from router.efficient import BarKind, Scored, select
from training.accuracy_tables import build_table
from training.bench.irt_router import irt_scores

LABEL_C = 10.0  # inverse regularisation of the label heads (unit-norm embeddings need a weak penalty)
DIRECT_C = 10.0  # the same for the per-model success predictors, so neither side is favoured
RIDGE_ALPHA = 1.0
MAX_ITER = 300
LABEL_TOL = 1e-3  # lbfgs stopping tolerance of the label heads: 57-class MMLU fits take ~2x longer at 1e-4


@dataclass
class FoldScores:
    """Per test item of one fold: each model's expected accuracy under both routers and
    the decision-time cost estimate; `label_hits` per head: top-1 label correct."""

    test_idx: np.ndarray
    factored: np.ndarray  # (n_test, m)
    direct: np.ndarray  # (n_test, m)
    irt: np.ndarray  # (n_test, m)
    est_cost: np.ndarray  # (n_test, m)
    label_hits: dict[str, np.ndarray]


def _fit_proba(x_train: np.ndarray, y_train: Sequence[str], x_test: np.ndarray) -> tuple[list[str], np.ndarray]:
    classes = sorted(set(y_train))
    if len(classes) == 1:
        return classes, np.ones((len(x_test), 1))
    clf = LogisticRegression(C=LABEL_C, max_iter=MAX_ITER, tol=LABEL_TOL)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(x_train, list(y_train))
    return [str(c) for c in clf.classes_], clf.predict_proba(x_test)


def _success(x_train: np.ndarray, y: np.ndarray, x_test: np.ndarray) -> np.ndarray:
    if np.all(y == y[0]):
        return np.full(len(x_test), float(y[0]))
    if np.all((y == 0) | (y == 1)):
        clf = LogisticRegression(C=DIRECT_C, max_iter=MAX_ITER)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(x_train, y.astype(int))
        return clf.predict_proba(x_test)[:, 1]
    return np.clip(Ridge(alpha=RIDGE_ALPHA).fit(x_train, y).predict(x_test), 0.0, 1.0)


def _cells(heads: dict[str, list[str]], idx: np.ndarray) -> list[str]:
    """Each item's table cell: its label, or `route_key|difficulty` for the production heads."""
    if set(heads) == {"route_key", "difficulty"}:
        return [cell_key(heads["route_key"][i], heads["difficulty"][i]) for i in idx]
    (values,) = heads.values()
    return [values[i] for i in idx]


def score_fold(
    x: np.ndarray,
    heads: dict[str, list[str]],
    outcomes: np.ndarray,
    cost: np.ndarray,
    real_cost: bool,
    models: list[str],
    train_idx: np.ndarray,
    test_idx: np.ndarray,
) -> FoldScores:
    """Fit both routers on `train_idx` and score `test_idx`."""
    head_probs: dict[str, dict[str, np.ndarray]] = {}
    hits: dict[str, np.ndarray] = {}
    for head, values in heads.items():
        classes, proba = _fit_proba(x[train_idx], [values[i] for i in train_idx], x[test_idx])
        head_probs[head] = {c: proba[:, k] for k, c in enumerate(classes)}
        top = np.array(classes)[proba.argmax(axis=1)]
        hits[head] = top == np.array([values[i] for i in test_idx])

    train_cells = _cells(heads, train_idx)
    if set(heads) == {"route_key", "difficulty"}:
        cells = [cell_key(r, d) for r in head_probs["route_key"] for d in head_probs["difficulty"]]
    else:
        cells = sorted(set(train_cells))
    records = [
        (m, c, float(outcomes[i, j])) for i, c in zip(train_idx, train_cells, strict=True) for j, m in enumerate(models)
    ]
    table = build_table(records, cells)

    factored = np.zeros((len(test_idx), len(models)))
    vectors = np.zeros((len(test_idx), len(cells)))
    for t in range(len(test_idx)):
        if set(heads) == {"route_key", "difficulty"}:
            probs = joint_probs(
                {k: float(v[t]) for k, v in head_probs["route_key"].items()},
                {k: float(v[t]) for k, v in head_probs["difficulty"].items()},
            )
        else:
            ((_, by_label),) = head_probs.items()
            probs = {k: float(v[t]) for k, v in by_label.items()}
        vec = table.probability_vector(probs)
        vectors[t] = vec
        factored[t] = [table.expected_accuracy(m, vec) for m in models]

    if real_cost:
        # The test item's own cost is unknown when deciding: expect the model's mean
        # training cost for the item's (predicted) cell, the model's overall mean where a
        # cell has no training rows.
        per_cell = np.tile(cost[train_idx].mean(axis=0), (len(cells), 1))
        index = {c: k for k, c in enumerate(cells)}
        for c in set(train_cells):
            rows = [i for i, ci in zip(train_idx, train_cells, strict=True) if ci == c]
            per_cell[index[c]] = cost[rows].mean(axis=0)
        est_cost = vectors @ per_cell
    else:
        est_cost = cost[test_idx]

    direct = np.column_stack([_success(x[train_idx], outcomes[train_idx, j], x[test_idx]) for j in range(len(models))])
    success = irt_scores(x, outcomes, train_idx, test_idx)
    return FoldScores(test_idx=test_idx, factored=factored, direct=direct, irt=success, est_cost=est_cost,
                      label_hits=hits)


def sweep(
    accuracy: np.ndarray,
    est_cost: np.ndarray,
    models: list[str],
    bars: Sequence[tuple[BarKind, float]],
) -> np.ndarray:
    """Model index chosen by `router.efficient.select` for every (bar, item): (n_bars, n)."""
    scored = [
        [Scored(m, float(a), float(c)) for m, a, c in zip(models, acc_row, cost_row, strict=True)]
        for acc_row, cost_row in zip(accuracy, est_cost, strict=True)
    ]
    index = {m: j for j, m in enumerate(models)}
    return np.array([[index[select(s, kind, value).winner.model] for s in scored] for kind, value in bars], dtype=int)
