"""Serving-side heads: calibrated multinomial logistic regressions run as numpy matmuls.

The training side (training/fit.py) folds feature standardisation into the weights, so
serving is `softmax((x @ W.T + b) / T)` per head. No scikit-learn here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from classifier.errors import ArtefactError

N_EMBEDDED_TEXTS = 3  # latest turn, context, instruction (classifier.features.Features)


def feature_matrix(blocks: list[np.ndarray]) -> np.ndarray:
    """Rows of the blocks side by side (embeddings then structural features), float32."""
    return np.concatenate(blocks, axis=1).astype(np.float32, copy=False)


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=-1, keepdims=True)
    return z


class LinearHead:
    """One calibrated head: `predict_proba(X) = softmax((X @ W.T + b) / temperature)`."""

    def __init__(self, weight: np.ndarray, bias: np.ndarray, labels: list[str], temperature: float = 1.0) -> None:
        weight = np.asarray(weight, dtype=np.float32)
        bias = np.asarray(bias, dtype=np.float32)
        if weight.ndim != 2 or bias.shape != (weight.shape[0],) or len(labels) != weight.shape[0]:
            raise ArtefactError(f"head shapes disagree: weight {weight.shape}, bias {bias.shape}, {len(labels)} labels")
        if not temperature > 0:
            raise ArtefactError(f"head temperature must be > 0, got {temperature}")
        # Fold the temperature in once; W is stored transposed for a contiguous matmul.
        self._wt = np.ascontiguousarray((weight / temperature).T)
        self._b = bias / np.float32(temperature)
        self.weight, self.bias = weight, bias
        self.labels = list(labels)
        self.temperature = float(temperature)

    @property
    def n_features(self) -> int:
        return int(self.weight.shape[1])

    def logits(self, x: np.ndarray) -> np.ndarray:
        """Uncalibrated logits (temperature 1), shape (n, classes)."""
        return x @ self.weight.T + self.bias

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return softmax(x @ self._wt + self._b)


class Heads:
    """The route-key head and the difficulty head, saved together in one .npz."""

    def __init__(self, route: LinearHead, difficulty: LinearHead) -> None:
        if route.n_features != difficulty.n_features:
            raise ArtefactError("route and difficulty heads expect different feature sizes")
        self.route = route
        self.difficulty = difficulty

    @property
    def n_features(self) -> int:
        return self.route.n_features

    def save(self, path: str | Path) -> None:
        np.savez_compressed(
            path,
            route_weight=self.route.weight,
            route_bias=self.route.bias,
            route_temperature=np.float32(self.route.temperature),
            route_labels=np.array(self.route.labels),
            difficulty_weight=self.difficulty.weight,
            difficulty_bias=self.difficulty.bias,
            difficulty_temperature=np.float32(self.difficulty.temperature),
            difficulty_labels=np.array(self.difficulty.labels),
        )

    @classmethod
    def load(cls, path: str | Path) -> Heads:
        try:
            with np.load(path, allow_pickle=False) as z:
                heads = [
                    LinearHead(
                        z[f"{h}_weight"],
                        z[f"{h}_bias"],
                        [str(s) for s in z[f"{h}_labels"]],
                        float(z[f"{h}_temperature"]),
                    )
                    for h in ("route", "difficulty")
                ]
        except (OSError, KeyError, ValueError) as exc:
            raise ArtefactError(f"{path}: cannot read heads: {exc}") from exc
        return cls(*heads)
