"""The serving classifier: featurise -> embed -> heads -> a Prediction."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from classifier.artefact import (
    HEADS,
    TAXONOMY,
    embedder_path,
    read_manifest,
    resolve_artefact,
)
from classifier.errors import ArtefactError
from classifier.features import Features, Featuriser
from classifier.heads import N_EMBEDDED_TEXTS, Heads, feature_matrix
from classifier.taxonomy import Taxonomy, load_taxonomy


class Embedder(Protocol):
    name: str
    dim: int

    def embed(self, texts: list[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class Prediction:
    """What the classifier says about one request. Probabilities are calibrated.

    confidence: the probability of `route_key` (task type and subtype together).
    """

    task_type: str
    subtype: str
    route_key: str
    difficulty: str
    confidence: float
    route_probs: dict[str, float]
    difficulty_probs: dict[str, float]
    task_type_probs: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def features_to_matrix(embed: Callable[[list[str]], np.ndarray], dim: int, feats: list[Features]) -> np.ndarray:
    """[emb(latest), emb(context), emb(instruction), numeric] rows; training uses it too.

    An empty context embeds to zeros; an empty instruction reuses the latest turn's row.
    Texts are embedded in one call.
    """
    latest = [f.texts[0] for f in feats]
    ctx = [i for i, f in enumerate(feats) if f.texts[1]]
    ins = [i for i, f in enumerate(feats) if f.texts[2]]
    texts = latest + [feats[i].texts[1] for i in ctx] + [feats[i].texts[2] for i in ins]
    vecs = np.asarray(embed(texts), dtype=np.float32).reshape(len(texts), dim)
    n = len(feats)
    e_latest = vecs[:n]
    e_ctx = np.zeros_like(e_latest)
    e_ctx[ctx] = vecs[n : n + len(ctx)]
    e_ins = e_latest.copy()
    e_ins[ins] = vecs[n + len(ctx) :]
    numeric = np.stack([f.numeric for f in feats])
    return feature_matrix([e_latest, e_ctx, e_ins, numeric])


class Classifier:
    """Predicts route key and difficulty for requests; build it with `classifier.load()`."""

    def __init__(
        self,
        embedder: Embedder,
        heads: Heads,
        featuriser: Featuriser,
        taxonomy: Taxonomy,
        manifest: dict[str, Any] | None = None,
        path: Path | None = None,
    ) -> None:
        self.embedder = embedder
        self.heads = heads
        self.featuriser = featuriser
        self.taxonomy = taxonomy
        self.manifest = manifest or {}
        self.path = path
        self.route_keys = heads.route.labels
        self.difficulties = heads.difficulty.labels
        if self.route_keys != taxonomy.route_keys:
            raise ArtefactError("route head labels differ from the taxonomy's route keys")
        if self.difficulties != taxonomy.difficulty_names:
            raise ArtefactError("difficulty head labels differ from the taxonomy's levels")
        expected = N_EMBEDDED_TEXTS * embedder.dim + len(featuriser.numeric_names)
        if heads.n_features != expected:
            raise ArtefactError(
                f"heads expect {heads.n_features} features, embedder {embedder.name!r} "
                f"(dim {embedder.dim}) + features give {expected}"
            )
        types = taxonomy.task_type_names
        self.task_types = types
        self._group = np.zeros((len(self.route_keys), len(types)), dtype=np.float32)
        self._type_slices: list[list[int]] = [[] for _ in types]
        for i, key in enumerate(self.route_keys):
            t = types.index(taxonomy.task_type_of(key))
            self._group[i, t] = 1.0
            self._type_slices[t].append(i)

    def features(self, requests: list[dict[str, Any]]) -> np.ndarray:
        feats = [self.featuriser(r) for r in requests]
        return features_to_matrix(self.embedder.embed, self.embedder.dim, feats)

    def predict_proba(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(route-key probabilities, difficulty probabilities) for a feature matrix."""
        return self.heads.route.predict_proba(x), self.heads.difficulty.predict_proba(x)

    def decode(self, rp: np.ndarray, dp: np.ndarray) -> Prediction:
        tp = rp @ self._group
        t = int(tp.argmax())
        members = self._type_slices[t]
        r = members[int(rp[members].argmax())]
        route_key = self.route_keys[r]
        d = int(dp.argmax())
        return Prediction(
            task_type=self.task_types[t],
            subtype=route_key.split("/", 1)[1],
            route_key=route_key,
            difficulty=self.difficulties[d],
            confidence=float(rp[r]),
            route_probs=dict(zip(self.route_keys, rp.tolist(), strict=True)),
            difficulty_probs=dict(zip(self.difficulties, dp.tolist(), strict=True)),
            task_type_probs=dict(zip(self.task_types, tp.tolist(), strict=True)),
        )

    def predict(self, request: dict[str, Any]) -> Prediction:
        """Classify one request (prompt, chat, Responses or Anthropic shape; optional mode).

        Raises classifier.RequestError when the request holds no user text.
        """
        rp, dp = self.predict_proba(self.features([request]))
        return self.decode(rp[0], dp[0])

    def predict_many(self, requests: list[dict[str, Any]], batch_size: int = 256) -> list[Prediction]:
        out: list[Prediction] = []
        for start in range(0, len(requests), batch_size):
            rp, dp = self.predict_proba(self.features(requests[start : start + batch_size]))
            out.extend(self.decode(rp[i], dp[i]) for i in range(len(rp)))
        return out


def load(location: str | os.PathLike[str] | None = None, embedder: Embedder | None = None) -> Classifier:
    """Load a classifier: None = the shipped default, a folder, or a `models:/` URI.

    `embedder` overrides the artefact's own (tests, or an embedder already in memory).
    Raises ArtefactError naming the file at fault.
    """
    folder = resolve_artefact(location)
    manifest = read_manifest(folder)
    taxonomy = load_taxonomy(folder / TAXONOMY)
    if taxonomy.sha256 != manifest["taxonomy_sha256"]:
        raise ArtefactError(f"{folder / TAXONOMY}: hash differs from the manifest's")
    heads = Heads.load(folder / HEADS)
    if embedder is None:
        from classifier.embedders import load_embedder  # written alongside; numpy/onnx only

        embedder = load_embedder(embedder_path(folder, manifest))
    want = manifest["embedder"]
    if embedder.name != want.get("name") or embedder.dim != want.get("dim"):
        raise ArtefactError(
            f"{folder}: heads were trained with embedder {want.get('name')!r} "
            f"(dim {want.get('dim')}), got {embedder.name!r} (dim {embedder.dim})"
        )
    featuriser = Featuriser.from_config(manifest["features"])
    return Classifier(embedder, heads, featuriser, taxonomy, manifest, folder)
