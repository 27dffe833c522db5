"""Serving-time text embedders: a static token table and MiniLM in ONNX.

Both turn a list of texts into an ``(n, dim)`` float32 array of L2-normalised rows.
Serving imports only numpy, tokenizers and (lazily, for ``OnnxEmbedder``) onnxruntime;
never torch, transformers or sentence-transformers. The folders are built offline by
``training/distill.py`` (static) and ``training/export_onnx.py`` (ONNX); each holds an
``embedder.json`` manifest that ``load_embedder`` dispatches on::

    {"kind": "static" | "onnx", "name": str, "dim": int, "source": str,
     "max_tokens": int, "files": {"tokenizer": "tokenizer.json", ...}, ...}
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Tokenizer

from classifier.runcache import PieceCache

MANIFEST_NAME = "embedder.json"
KINDS = ("static", "onnx")

# Text is cut to this many characters per allowed token before tokenising, so a
# 200k-character paste costs no more than a long prompt. 512 word pieces of English or
# code span ~2-3k characters; only whitespace-padded pathological input reaches the cap.
CHARS_PER_TOKEN_CAP = 32


class EmbedderError(Exception):
    """An embedder folder is missing, malformed or inconsistent.

    ``code`` is a short machine-readable reason (``missing_manifest``, ``bad_manifest``,
    ``missing_file``, ``bad_vectors``, ``bad_tokenizer``, ``bad_model``, ``bad_input``);
    the message names the path.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def read_manifest(path: str | Path, expected_kind: str | None = None) -> dict[str, Any]:
    """Read and check ``embedder.json`` in folder ``path`` (and its kind when expected).

    Raises ``EmbedderError`` (``missing_manifest`` / ``bad_manifest``) naming the file.
    """
    manifest_path = Path(path) / MANIFEST_NAME
    if not manifest_path.is_file():
        raise EmbedderError(
            "missing_manifest",
            f"{manifest_path}: not found; an embedder folder needs {MANIFEST_NAME} "
            "(build one with `python -m training.distill OUT` or "
            "`python -m training.export_onnx OUT`)",
        )
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise EmbedderError("bad_manifest", f"{manifest_path}: not valid JSON ({exc})") from exc
    if not isinstance(manifest, dict):
        raise EmbedderError("bad_manifest", f"{manifest_path}: must be a JSON object")
    for key, kind in (("kind", str), ("name", str), ("dim", int), ("source", str)):
        value = manifest.get(key)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise EmbedderError(
                "bad_manifest",
                f"{manifest_path}: {key}: must be a {kind.__name__}, got {value!r}",
            )
    if manifest["kind"] not in KINDS:
        raise EmbedderError("bad_manifest", f"{manifest_path}: kind: must be one of {KINDS}, got {manifest['kind']!r}")
    if manifest["dim"] <= 0:
        raise EmbedderError("bad_manifest", f"{manifest_path}: dim: must be > 0")
    if expected_kind is not None and manifest["kind"] != expected_kind:
        raise EmbedderError(
            "bad_manifest",
            f"{manifest_path}: kind is {manifest['kind']!r}, expected {expected_kind!r} "
            "(use load_embedder to dispatch on kind)",
        )
    return manifest


def _file(folder: Path, manifest: dict[str, Any], role: str, default: str) -> Path:
    files = manifest.get("files") or {}
    if not isinstance(files, dict):
        raise EmbedderError("bad_manifest", f"{folder / MANIFEST_NAME}: files: must be an object")
    path = folder / str(files.get(role, default))
    if not path.is_file():
        raise EmbedderError("missing_file", f"{path}: not found ({role} named by {MANIFEST_NAME})")
    return path


def _load_tokenizer(folder: Path, manifest: dict[str, Any]) -> Tokenizer:
    path = _file(folder, manifest, "tokenizer", "tokenizer.json")
    try:
        return Tokenizer.from_file(str(path))
    except Exception as exc:  # tokenizers raises a bare Exception on malformed files
        raise EmbedderError("bad_tokenizer", f"{path}: cannot load ({exc})") from exc


def _check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise EmbedderError("bad_input", "embed() takes a list of strings; wrap one text in a list")
    out = list(texts)
    for i, text in enumerate(out):
        if not isinstance(text, str):
            raise EmbedderError("bad_input", f"texts[{i}]: must be str, got {type(text).__name__}")
    return out


def _normalise_rows(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)


class StaticEmbedder:
    """model2vec-style static embeddings: the mean of per-token vectors, L2-normalised.

    The folder holds ``tokenizer.json``, a float16 ``(vocab, dim)`` matrix (``.npy``,
    token weights already baked in) and ``embedder.json``. Special tokens (``[CLS]``,
    ``[UNK]``, ...) are dropped; a text with no remaining token embeds to a zero vector.
    Texts are truncated to ``max_tokens`` word pieces (default from the manifest, else 512).
    ``piece_cache`` (default on) tokenizes each distinct whitespace/punctuation-separated
    piece once and reuses its ids (``classifier.runcache``): same ids, ~5x less time a
    request; off, every text goes through the tokenizer.
    ``embed`` is deterministic and a text's row does not depend on the rest of the batch.

    Raises ``EmbedderError`` when the folder is incomplete or the matrix does not fit
    the tokenizer or the manifest's ``dim``.
    """

    kind = "static"

    def __init__(self, path: str | Path, *, max_tokens: int | None = None, piece_cache: bool = True) -> None:
        self.path = Path(path)
        manifest = read_manifest(self.path, "static")
        self.manifest = manifest
        self.name: str = manifest["name"]
        self.dim: int = manifest["dim"]
        self.max_tokens: int = int(max_tokens or manifest.get("max_tokens", 512))

        vectors_path = _file(self.path, manifest, "vectors", "embeddings.npy")
        try:
            vectors = np.load(vectors_path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise EmbedderError("bad_vectors", f"{vectors_path}: cannot load ({exc})") from exc
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise EmbedderError(
                "bad_vectors",
                f"{vectors_path}: shape {vectors.shape} does not match dim {self.dim}",
            )
        if not np.issubdtype(vectors.dtype, np.floating):
            raise EmbedderError("bad_vectors", f"{vectors_path}: dtype {vectors.dtype} not float")
        self._vectors = vectors
        # float32 copy for serving: no per-request cast (about 2x the file's size in memory).
        self._table = np.ascontiguousarray(vectors, dtype=np.float32)

        self._tokenizer = _load_tokenizer(self.path, manifest)
        # The MiniLM tokenizer.json ships fixed padding to 128; padding would add [PAD]s.
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=self.max_tokens)
        vocab_size = self._tokenizer.get_vocab_size(with_added_tokens=True)
        if vocab_size > vectors.shape[0]:
            raise EmbedderError(
                "bad_vectors",
                f"{vectors_path}: {vectors.shape[0]} rows but the tokenizer has {vocab_size} ids",
            )
        self._keep = np.ones(vectors.shape[0], dtype=bool)
        for token_id, token in self._tokenizer.get_added_tokens_decoder().items():
            if token.special:
                self._keep[token_id] = False
        self._max_chars = CHARS_PER_TOKEN_CAP * self.max_tokens
        self._pieces = PieceCache(self._tokenizer, self._keep) if piece_cache else None

    def __repr__(self) -> str:
        return f"StaticEmbedder(name={self.name!r}, dim={self.dim}, path={str(self.path)!r})"

    def token_ids(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Token ids each text is embedded from (truncated, special tokens dropped)."""
        texts = [t[: self._max_chars] for t in _check_texts(texts)]
        if not texts:
            return []
        if self._pieces is not None:
            return [self._pieces.ids(t, self.max_tokens) for t in texts]
        encodings = self._tokenizer.encode_batch(texts, add_special_tokens=False)
        ids = [np.asarray(e.ids, dtype=np.int64) for e in encodings]
        return [x[self._keep[x]] for x in ids]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts`` into an ``(n, dim)`` float32 array with unit-norm rows.

        Empty texts (or texts of only unknown characters) give all-zero rows.
        Raises ``EmbedderError("bad_input")`` when ``texts`` is a bare string or holds
        a non-string.
        """
        ids = self.token_ids(texts)
        out = np.zeros((len(ids), self.dim), dtype=np.float32)
        # Sum per text; the mean's 1/len vanishes under L2 normalisation. A gather + sum per
        # text on the float32 table costs about half of one reduceat over a float16 gather.
        for i, x in enumerate(ids):
            if len(x):
                row = self._table[x].sum(axis=0)
                norm = float(np.sqrt(row @ row))
                out[i] = row / max(norm, 1e-12)
        return out


class OnnxEmbedder:
    """all-MiniLM-L6-v2 in ONNX (int8 or fp32) served with onnxruntime on CPU.

    Mean pooling over the attention mask, then L2 normalisation (as sentence-transformers
    does). Texts are truncated to ``max_tokens`` word pieces including ``[CLS]``/``[SEP]``
    (default from the manifest, else 256) and padded to the longest text of each batch.
    ``intra_op_threads`` is onnxruntime's thread count (1 keeps one request on one core).
    ``batch_size`` defaults to 1 because int8 models quantise activations per batch
    tensor: a text's vector then shifts with its padded batch mates (cosine down to ~0.98
    measured), which would skew training features against one-request serving. Raise it
    for throughput with fp32 models, or when that skew is acceptable.
    An empty text embeds ``[CLS] [SEP]``, as sentence-transformers does.

    Raises ``EmbedderError`` when the folder is incomplete or the model's output width
    differs from the manifest's ``dim``.
    """

    kind = "onnx"

    def __init__(
        self,
        path: str | Path,
        *,
        intra_op_threads: int = 1,
        max_tokens: int | None = None,
        batch_size: int = 1,
    ) -> None:
        import onnxruntime as ort  # lazy: static-only serving never pays for it

        self.path = Path(path)
        manifest = read_manifest(self.path, "onnx")
        if intra_op_threads < 1 or batch_size < 1:
            raise ValueError("intra_op_threads and batch_size must be >= 1")
        self.manifest = manifest
        self.name: str = manifest["name"]
        self.dim: int = manifest["dim"]
        self.max_tokens: int = int(max_tokens or manifest.get("max_tokens", 256))
        self.batch_size = batch_size

        options = ort.SessionOptions()
        options.intra_op_num_threads = intra_op_threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        model_path = _file(self.path, manifest, "model", "model.onnx")
        try:
            self._session = ort.InferenceSession(
                str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise EmbedderError("bad_model", f"{model_path}: onnxruntime cannot load it ({exc})") from exc
        self._inputs = {i.name for i in self._session.get_inputs()}
        width = self._session.get_outputs()[0].shape[-1]
        if isinstance(width, int) and width != self.dim:
            raise EmbedderError("bad_model", f"{model_path}: output width {width} != dim {self.dim}")

        self._tokenizer = _load_tokenizer(self.path, manifest)
        self._tokenizer.enable_truncation(max_length=self.max_tokens)
        pad = manifest.get("pad_token", "[PAD]")
        pad_id = self._tokenizer.token_to_id(pad)
        self._tokenizer.enable_padding(pad_id=0 if pad_id is None else pad_id, pad_token=pad)
        self._max_chars = CHARS_PER_TOKEN_CAP * self.max_tokens

    def __repr__(self) -> str:
        return f"OnnxEmbedder(name={self.name!r}, dim={self.dim}, path={str(self.path)!r})"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts`` into an ``(n, dim)`` float32 array with unit-norm rows.

        Runs in chunks of ``batch_size`` texts (padded to the chunk's longest). Raises ``EmbedderError("bad_input")``
        when ``texts`` is a bare string or holds a non-string.
        """
        texts = [t[: self._max_chars] for t in _check_texts(texts)]
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), self.batch_size):
            chunk = texts[start : start + self.batch_size]
            out[start : start + len(chunk)] = self._embed_chunk(chunk)
        return out

    def _embed_chunk(self, texts: list[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(texts)
        mask = np.asarray([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {
            "input_ids": np.asarray([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": mask,
            "token_type_ids": np.asarray([e.type_ids for e in encodings], dtype=np.int64),
        }
        feeds = {k: v for k, v in feeds.items() if k in self._inputs}
        hidden = self._session.run(None, feeds)[0]
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1.0)
        return _normalise_rows(pooled)


def load_embedder(path: str | Path, *, intra_op_threads: int = 1) -> StaticEmbedder | OnnxEmbedder:
    """Load the embedder in folder ``path``, dispatching on ``embedder.json``'s ``kind``.

    ``intra_op_threads`` applies to ONNX embedders only. Raises ``EmbedderError`` naming
    the missing or malformed file.
    """
    manifest = read_manifest(path)
    if manifest["kind"] == "static":
        return StaticEmbedder(path)
    return OnnxEmbedder(path, intra_op_threads=intra_op_threads)
