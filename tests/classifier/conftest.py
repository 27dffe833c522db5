"""Fixtures for classifier tests: a stand-in embedder and a tiny fitted classifier."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from classifier.features import Featuriser
from classifier.model import Classifier
from classifier.taxonomy import load_taxonomy


class HashingEmbedder:
    """Random projection of hashed words: deterministic, no model files (tests only)."""

    name = "test-hashing-32"
    dim = 32

    def __init__(self) -> None:
        self._proj = np.random.default_rng(0).standard_normal((512, self.dim)).astype(np.float32)

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().split():
                out[i] += self._proj[zlib.crc32(word.encode()) % 512]
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)


TOY = {
    "debugging/bug_fixing": ["fix the crash in {w}", "this {w} throws an error, please fix it"],
    "investigation/external_research": ["what is a {w} in python", "compare {w} libraries"],
    "refactoring/code_cleanup": ["add docstrings to {w}", "rename variables in {w}"],
    "planning_design/system_design": ["design a scalable {w} service", "plan the {w} rollout"],
}
WORDS = ["parser", "cache", "queue", "router", "login", "upload", "report", "socket"]


def toy_rows() -> list[tuple[str, str, str]]:
    rows = []
    for key, templates in TOY.items():
        for t in templates:
            for j, w in enumerate(WORDS):
                rows.append((t.format(w=w), key, ["low", "medium", "high"][j % 3]))
    return rows


@pytest.fixture(scope="session")
def taxonomy():
    return load_taxonomy()


@pytest.fixture(scope="session")
def hashing_embedder_cls() -> type[HashingEmbedder]:
    return HashingEmbedder


@pytest.fixture(scope="session")
def stand_in() -> HashingEmbedder:
    return HashingEmbedder()


@pytest.fixture(scope="session")
def toy_classifier(taxonomy, stand_in) -> Classifier:
    from classifier.model import features_to_matrix
    from training.fit import HeadTrainer

    feat = Featuriser(bow_dim=64)
    rows = toy_rows()
    x = features_to_matrix(stand_in.embed, stand_in.dim, [feat({"prompt": r[0]}) for r in rows])
    y_route = np.array([taxonomy.route_keys.index(r[1]) for r in rows])
    y_diff = np.array([taxonomy.difficulty_names.index(r[2]) for r in rows])
    heads = HeadTrainer(cs=(1.0,), folds=3, progress=False).fit(
        x, y_route, y_diff, taxonomy.route_keys, taxonomy.difficulty_names
    )
    return Classifier(stand_in, heads, feat, taxonomy)
