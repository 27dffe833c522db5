"""Fitting the heads: featurise, cross-validate C, fit, calibrate with temperature scaling.

`HeadTrainer` is configured like a scikit-learn estimator (every knob a constructor
parameter); `fit(X, y_route, y_difficulty)` returns serving `classifier.heads.Heads` whose
weights already include the feature standardisation.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold
from tqdm import tqdm

from classifier.features import Featuriser
from classifier.heads import Heads, LinearHead
from classifier.model import features_to_matrix
from training.dataset import Example
from training.embedding_cache import EmbeddingCache

ABSENT_BIAS = -30.0  # a class with no training rows gets probability ~0


def featurise(
    examples: list[Example], featuriser: Featuriser, cache: EmbeddingCache, progress: bool = True
) -> np.ndarray:
    """Feature matrix for examples, the same path serving takes (classifier.model)."""
    feats = [featuriser(e.request) for e in examples]
    return features_to_matrix(lambda texts: cache.embed(texts, progress=progress), cache.embedder.dim, feats)


def fit_logistic(
    x: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    c: float,
    class_weight: str | None,
    tol: float = 1e-3,
    max_iter: int = 300,
) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial LR on standardised x; returns (W, b) for raw x over all n_classes."""
    mean = x.mean(axis=0)
    std = x.std(axis=0)
    std[std < 1e-6] = 1.0
    xs = (x - mean) / std
    weight = np.zeros((n_classes, x.shape[1]), dtype=np.float64)
    bias = np.full(n_classes, ABSENT_BIAS, dtype=np.float64)
    present = np.unique(y)
    if len(present) == 1:
        bias[present[0]] = 0.0
        return weight.astype(np.float32), bias.astype(np.float32)
    clf = LogisticRegression(C=c, tol=tol, max_iter=max_iter, class_weight=class_weight)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(xs, y)
    coef, intercept = clf.coef_, clf.intercept_
    if len(clf.classes_) == 2:  # binary LR returns one row: expand to two logits
        coef = np.vstack([-coef[0] / 2, coef[0] / 2])
        intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
    for row, cls in enumerate(clf.classes_):
        weight[cls] = coef[row] / std
        bias[cls] = intercept[row] - float(coef[row] @ (mean / std))
    return weight.astype(np.float32), bias.astype(np.float32)


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """Temperature minimising the negative log-likelihood of softmax(logits / T)."""

    def nll(log_t: float) -> float:
        z = logits / np.exp(log_t)
        z = z - z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return float(-logp[np.arange(len(y)), y].mean())

    res = minimize_scalar(nll, bounds=(np.log(0.05), np.log(20.0)), method="bounded")
    return float(np.exp(res.x))


@dataclass
class HeadReport:
    """What cross-validation found for one head."""

    best_c: float
    cv_accuracy: dict[float, float]
    temperature: float
    oof_logits: np.ndarray = field(repr=False)


def cross_validate(
    x: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    cs: tuple[float, ...],
    class_weight: str | None,
    folds: int,
    seed: int,
    desc: str,
    progress: bool = True,
    groups: np.ndarray | None = None,
) -> HeadReport:
    """k-fold CV over C; out-of-fold logits of the best C feed temperature scaling.

    `groups`: rows of one group (a labelled prompt and its wrapped copies) stay in one
    fold, so a copy never scores its own twin.
    """
    # Classes rarer than `folds` only draw a warning; a fold may then miss them.
    k = max(2, min(folds, int(np.bincount(y).max())))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # classes with fewer rows than folds
        if groups is None:
            splits = list(StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(x, y))
        else:
            splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
            splits = list(splitter.split(x, y, groups))
    acc: dict[float, float] = {}
    oof: dict[float, np.ndarray] = {}
    bar = tqdm(total=len(cs) * len(splits), desc=f"cv {desc}", leave=False, disable=not progress)
    for c in cs:
        logits = np.zeros((len(y), n_classes), dtype=np.float32)
        for tr, te in splits:
            w, b = fit_logistic(x[tr], y[tr], n_classes, c, class_weight)
            logits[te] = x[te] @ w.T + b
            bar.update(1)
        oof[c] = logits
        acc[c] = float((logits.argmax(axis=1) == y).mean())
    bar.close()
    best = max(cs, key=lambda c: (acc[c], -abs(np.log(c))))
    return HeadReport(best, acc, fit_temperature(oof[best], y), oof[best])


@dataclass
class HeadTrainer:
    """Fits the route-key and difficulty heads.

    cs: inverse regularisation strengths tried by CV (features are standardised, many are
    sparse: small C wins); class_weight: None or "balanced"; folds: CV folds; calibrate:
    fit a temperature on out-of-fold logits (else T = 1).
    """

    cs: tuple[float, ...] = (0.0005, 0.001, 0.003, 0.01, 0.03)
    class_weight: str | None = None
    folds: int = 4
    calibrate: bool = True
    seed: int = 0
    progress: bool = True
    reports: dict[str, HeadReport] = field(default_factory=dict)

    def params(self) -> dict[str, Any]:
        return {
            "cs": list(self.cs),
            "class_weight": self.class_weight,
            "folds": self.folds,
            "calibrate": self.calibrate,
            "seed": self.seed,
        }

    def fit(
        self,
        x: np.ndarray,
        y_route: np.ndarray,
        y_difficulty: np.ndarray,
        route_labels: list[str],
        difficulty_labels: list[str],
        groups: np.ndarray | None = None,
    ) -> Heads:
        """Fit both heads; `groups` (one id per row) keeps twins in one CV fold."""
        heads = []
        for name, y, labels in (
            ("route", y_route, route_labels),
            ("difficulty", y_difficulty, difficulty_labels),
        ):
            if len(self.cs) > 1 or self.calibrate:
                rep = cross_validate(
                    x, y, len(labels), self.cs, self.class_weight, self.folds, self.seed, name, self.progress, groups
                )
                self.reports[name] = rep
                c, t = rep.best_c, (rep.temperature if self.calibrate else 1.0)
            else:
                c, t = self.cs[0], 1.0
            w, b = fit_logistic(x, y, len(labels), c, self.class_weight)
            heads.append(LinearHead(w, b, labels, t))
        return Heads(heads[0], heads[1])
