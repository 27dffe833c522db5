"""Embeddings cached on disk, keyed by embedder identity and text hash.

One .npz per embedder under .cache/embeddings/: `keys` (sha256 of each text) and `vectors`.
A text already embedded by the same embedder is never embedded again.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
from tqdm import tqdm

from classifier.model import Embedder
from training.sources import REPO_ROOT

DEFAULT_CACHE_DIR = REPO_ROOT / ".cache" / "embeddings"


def embedder_fingerprint(embedder: Embedder) -> str:
    """Name, dim and (when the embedder has a folder) the hash of its embedder.json."""
    parts = [embedder.name, str(embedder.dim)]
    folder = getattr(embedder, "path", None)
    if folder is not None and (Path(folder) / "embedder.json").is_file():
        parts.append(hashlib.sha256((Path(folder) / "embedder.json").read_bytes()).hexdigest())
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


class EmbeddingCache:
    """`embed(texts)` returns the cached rows, embedding (in batches) only the new texts."""

    def __init__(self, embedder: Embedder, cache_dir: Path | None = DEFAULT_CACHE_DIR, batch_size: int = 64) -> None:
        self.embedder = embedder
        self.batch_size = batch_size
        self._store: dict[str, np.ndarray] = {}
        self.path: Path | None = None
        if cache_dir is not None:
            safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", embedder.name)
            self.path = Path(cache_dir) / f"{safe}-{embedder_fingerprint(embedder)}.npz"
            if self.path.is_file():
                with np.load(self.path, allow_pickle=False) as z:
                    self._store = dict(zip(z["keys"].tolist(), z["vectors"], strict=True))

    def embed(self, texts: list[str], progress: bool = True) -> np.ndarray:
        keys = [text_hash(t) for t in texts]
        todo = {k: t for k, t in zip(keys, texts, strict=True) if k not in self._store}
        if todo:
            items = list(todo.items())
            bar = tqdm(
                total=len(items), desc=f"embed ({self.embedder.name})", unit="text", disable=not progress, leave=False
            )
            for start in range(0, len(items), self.batch_size):
                chunk = items[start : start + self.batch_size]
                vecs = np.asarray(self.embedder.embed([t for _, t in chunk]), dtype=np.float32)
                for (k, _), v in zip(chunk, vecs, strict=True):
                    self._store[k] = v
                bar.update(len(chunk))
            bar.close()
            self._save()
        if not keys:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        return np.stack([self._store[k] for k in keys]).astype(np.float32, copy=False)

    def _save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp.npz")
        keys = np.array(list(self._store))
        np.savez(tmp, keys=keys, vectors=np.stack(list(self._store.values())))
        tmp.replace(self.path)
