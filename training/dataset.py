"""The labelled data set: label files joined with raw text, validated, de-duplicated, split.

- data/labels/<source>.csv (FORMAT.md) are joined with the raw rows of training/sources.py;
  data/labels/synthetic.jsonl carries its own messages.
- Every row is checked (unknown source or row id, labels outside data/taxonomy.yaml, bad
  methods); errors name file and line. strict=True raises DatasetError listing them all,
  strict=False skips those rows and keeps the messages in `Dataset.warnings`.
- Duplicates (same row, or the same text from another row) keep one row: hand before weak
  before synthetic, then file order.
- data/labels/ledger_review.jsonl (training/from_ledger.py): reviewed gateway captures,
  hand-labelled rows of source `ledger`.
- Validation: hand-labelled real rows only, ~25% of each route key, chosen by the rank of
  sha256("source:row_id") inside the class (deterministic). Weak, synthetic and ledger rows
  are training only (ledger labels start as the champion's predictions, so they would
  favour it in the promotion gate); synthetic rows are capped at 25% of the training rows.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from classifier.features import parse_request
from classifier.taxonomy import Taxonomy
from training.sources import LOADERS, REPO_ROOT, RawRow, SourceError, load_source, request_of

DEFAULT_LABELS_DIR = REPO_ROOT / "data" / "labels"
CSV_HEADER = ["source", "row_id", "route_key", "difficulty", "label_method", "difficulty_method", "note"]
DIFFICULTY_METHODS = {"hand", "swebench_time_bucket", "debugbench_level", "math_level", "model_failure_share"}
PRIORITY = {"hand": 0, "weak": 1, "synthetic": 2}
VAL_FRACTION = 0.25
SYNTHETIC_CAP = 0.25
TRAIN_ONLY_SOURCES = ("synthetic", "ledger")


class DatasetError(Exception):
    """One or more label rows are invalid; `errors` lists "file:line: reason" strings."""

    code = "labels_invalid"

    def __init__(self, errors: list[str]) -> None:
        shown = "\n  ".join(errors[:30])
        more = f"\n  ... and {len(errors) - 30} more" if len(errors) > 30 else ""
        super().__init__(f"{len(errors)} invalid label row(s):\n  {shown}{more}")
        self.errors = errors


@dataclass
class Example:
    source: str
    row_id: str
    request: dict[str, Any]
    route_key: str
    difficulty: str
    label_method: str
    difficulty_method: str
    where: str  # "file:line" of the label
    split: str = "train"  # train | val | dropped

    @property
    def key(self) -> str:
        return f"{self.source}:{self.row_id}"

    @property
    def task_type(self) -> str:
        return self.route_key.split("/", 1)[0]


@dataclass
class Dataset:
    examples: list[Example]
    sha256: str
    warnings: list[str] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def train(self) -> list[Example]:
        return [e for e in self.examples if e.split == "train"]

    @property
    def val(self) -> list[Example]:
        return [e for e in self.examples if e.split == "val"]


def _rank(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _check_labels(rec: dict[str, Any], taxonomy: Taxonomy, where: str, errors: list[str]) -> bool:
    ok = True
    if rec.get("route_key") not in taxonomy.route_keys:
        errors.append(f"{where}: route_key {rec.get('route_key')!r} is not in taxonomy.yaml")
        ok = False
    if rec.get("difficulty") not in taxonomy.difficulty_names:
        errors.append(f"{where}: difficulty {rec.get('difficulty')!r} must be one of {taxonomy.difficulty_names}")
        ok = False
    return ok


def read_label_csv(path: Path, taxonomy: Taxonomy, raw: dict[str, RawRow], errors: list[str]) -> list[Example]:
    """Rows of one label CSV joined with `raw` (row id -> RawRow of that file's source)."""
    out: list[Example] = []
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header != CSV_HEADER:
            errors.append(f"{path.name}:1: header must be {','.join(CSV_HEADER)}")
            return out
        for line, cells in enumerate(reader, start=2):
            where = f"{path.name}:{line}"
            if not cells or not any(c.strip() for c in cells):
                continue
            if len(cells) != len(CSV_HEADER):
                errors.append(f"{where}: expected {len(CSV_HEADER)} columns, got {len(cells)}")
                continue
            rec = dict(zip(CSV_HEADER, (c.strip() for c in cells), strict=True))
            ok = _check_labels(rec, taxonomy, where, errors)
            if rec["source"] != path.stem:
                errors.append(f"{where}: source {rec['source']!r} differs from file {path.stem!r}")
                ok = False
            if rec["label_method"] not in ("hand", "weak"):
                errors.append(f"{where}: label_method must be hand or weak, got {rec['label_method']!r}")
                ok = False
            if rec["difficulty_method"] not in DIFFICULTY_METHODS:
                errors.append(f"{where}: difficulty_method {rec['difficulty_method']!r} is unknown")
                ok = False
            row = raw.get(rec["row_id"])
            if row is None:
                errors.append(f"{where}: row_id {rec['row_id']!r} not found in source {path.stem}")
                ok = False
            if ok and row is not None:
                out.append(
                    Example(
                        rec["source"],
                        rec["row_id"],
                        request_of(row),
                        rec["route_key"],
                        rec["difficulty"],
                        rec["label_method"],
                        rec["difficulty_method"],
                        where,
                    )
                )
    return out


def json_objects(path: Path, errors: list[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """("file:line", object) for each non-empty line of a JSON-lines file; a line that is not
    a JSON object goes to `errors` instead."""
    with Path(path).open(encoding="utf-8") as fh:
        for line, text in enumerate(fh, start=1):
            where = f"{Path(path).name}:{line}"
            if not text.strip():
                continue
            try:
                rec = json.loads(text)
            except json.JSONDecodeError as exc:
                errors.append(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})")
                continue
            if not isinstance(rec, dict):
                errors.append(f"{where}: must be a JSON object, got {type(rec).__name__}")
                continue
            yield where, rec


def read_synthetic(path: Path, taxonomy: Taxonomy, errors: list[str]) -> list[Example]:
    out: list[Example] = []
    for where, rec in json_objects(path, errors):
        if not isinstance(rec.get("id"), str | int):
            errors.append(f"{where}: needs an 'id'")
            continue
        ok = _check_labels(rec, taxonomy, where, errors)
        if rec.get("label_method", "synthetic") != "synthetic":
            errors.append(f"{where}: label_method must be 'synthetic'")
            ok = False
        request = {k: rec[k] for k in ("messages", "tools", "mode", "system") if k in rec}
        try:
            parse_request(request)
        except Exception as exc:  # a session the featuriser cannot read is a bad row
            errors.append(f"{where}: messages unusable: {exc}")
            ok = False
        if ok:
            out.append(
                Example(
                    "synthetic",
                    str(rec["id"]),
                    request,
                    rec["route_key"],
                    rec["difficulty"],
                    "synthetic",
                    rec.get("difficulty_method", "hand"),
                    where,
                )
            )
    return out


def text_key(request: dict[str, Any]) -> str:
    """Normalised text identity of a request (for cross-row de-duplication)."""
    s = parse_request(request)
    norm = " ".join(f"{s.first_user}\n{s.latest_user}".lower().split())
    return hashlib.sha256(norm.encode("utf-8")).hexdigest()


def _deduplicate(examples: list[Example], warnings: list[str]) -> list[Example]:
    ordered = sorted(enumerate(examples), key=lambda p: (PRIORITY[p[1].label_method], p[0]))
    by_key: dict[str, Example] = {}
    by_text: dict[str, Example] = {}
    kept: list[tuple[int, Example]] = []
    for idx, ex in ordered:
        first = by_key.get(ex.key) or by_text.get(text_key(ex.request))
        if first is not None:
            if (first.route_key, first.difficulty) != (ex.route_key, ex.difficulty):
                warnings.append(
                    f"{ex.where}: duplicate of {first.where} ({first.key}) with other labels; "
                    f"kept {first.route_key}/{first.difficulty}"
                )
            continue
        by_key[ex.key] = ex
        by_text[text_key(ex.request)] = ex
        kept.append((idx, ex))
    return [ex for _, ex in sorted(kept, key=lambda p: p[0])]


def assign_splits(examples: list[Example], val_fraction: float = VAL_FRACTION) -> None:
    """Stratified by route key, deterministic: hand rows of real sources may enter val."""
    strata: dict[str, list[Example]] = defaultdict(list)
    for ex in examples:
        ex.split = "train"
        if ex.label_method == "hand" and ex.source not in TRAIN_ONLY_SOURCES:
            strata[ex.route_key].append(ex)
    for rows in strata.values():
        rows.sort(key=lambda e: _rank(e.key))
        n_val = math.floor(val_fraction * len(rows) + 0.5) if len(rows) >= 2 else 0
        for ex in rows[:n_val]:
            ex.split = "val"
    train = [e for e in examples if e.split == "train"]
    synthetic = sorted((e for e in train if e.label_method == "synthetic"), key=lambda e: _rank(e.key))
    cap = math.floor(SYNTHETIC_CAP / (1 - SYNTHETIC_CAP) * (len(train) - len(synthetic)))
    for ex in synthetic[cap:]:
        ex.split = "dropped"


def with_bare_views(examples: list[Example], share: float = 1 / 3) -> list[Example]:
    """Copies of the examples where about `share` of the synthetic sessions (stable hash) are
    reduced to their latest user turn as a bare prompt.

    Synthetic sessions carry system prompts and tools that real rows lack; the bare views
    teach the heads the request itself, so a bare prompt of that kind is recognised too.
    Replacing rather than adding keeps the synthetic share unchanged: adding a bare copy of
    every session cost about 2 points of validation accuracy.
    """
    out = []
    for ex in examples:
        if ex.label_method == "synthetic" and int(_rank(ex.key)[:8], 16) / 0xFFFFFFFF < share:
            ex = Example(**{**ex.__dict__, "request": {"prompt": parse_request(ex.request).latest_user}})
        out.append(ex)
    return out


def dataset_hash(examples: list[Example]) -> str:
    h = hashlib.sha256()
    for ex in sorted(examples, key=lambda e: e.key):
        text = json.dumps(ex.request, sort_keys=True, ensure_ascii=False)
        h.update(
            f"{ex.key}\t{ex.route_key}\t{ex.difficulty}\t{ex.label_method}\t{ex.split}\t"
            f"{hashlib.sha256(text.encode()).hexdigest()}\n".encode()
        )
    return h.hexdigest()


def _subset(examples: list[Example], n: int) -> list[Example]:
    """n rows, proportionally from each route key, by stable hash (for quick runs)."""
    if n >= len(examples):
        return examples
    groups: dict[str, list[Example]] = defaultdict(list)
    for ex in examples:
        groups[ex.route_key].append(ex)
    keep: set[str] = set()
    for rows in groups.values():
        rows.sort(key=lambda e: _rank(e.key))
        keep.update(e.key for e in rows[: max(1, round(n * len(rows) / len(examples)))])
    return [e for e in examples if e.key in keep]


def build_dataset(
    taxonomy: Taxonomy,
    labels_dir: Path = DEFAULT_LABELS_DIR,
    data_root: Path | None = None,
    strict: bool = True,
    subset: int | None = None,
    review: Path | None = None,
) -> Dataset:
    """Read every label file in `labels_dir`, and the ledger review file (`review`, default
    `labels_dir/ledger_review.jsonl` when it exists); raises DatasetError (strict) or
    SourceError."""
    errors: list[str] = []
    warnings: list[str] = []
    examples: list[Example] = []
    for path in sorted(Path(labels_dir).glob("*.csv")):
        if path.stem not in LOADERS:
            errors.append(f"{path.name}:1: unknown source {path.stem!r}; known: {sorted(LOADERS)}")
            continue
        try:
            raw = load_source(path.stem, data_root)
        except SourceError as exc:
            errors.append(f"{path.name}:1: {exc}")
            continue
        examples.extend(read_label_csv(path, taxonomy, raw, errors))
    synthetic = Path(labels_dir) / "synthetic.jsonl"
    if synthetic.exists():
        examples.extend(read_synthetic(synthetic, taxonomy, errors))
    from training.from_ledger import REVIEW_FILE, review_examples

    review = Path(review) if review is not None else Path(labels_dir) / REVIEW_FILE
    if review.exists():
        examples.extend(review_examples(review, taxonomy, errors))
    if errors and strict:
        raise DatasetError(errors)
    warnings.extend(errors)
    n_read = len(examples)
    examples = _deduplicate(examples, warnings)
    if subset:
        examples = _subset(examples, subset)
    assign_splits(examples)
    kept = [e for e in examples if e.split != "dropped"]
    stats = {
        "rows_read": n_read,
        "duplicates_removed": n_read - len(examples),
        "synthetic_dropped_by_cap": len(examples) - len(kept),
        "split": dict(Counter(e.split for e in kept)),
        "by_source": dict(Counter(f"{e.source}/{e.split}" for e in kept)),
        "by_method": dict(Counter(e.label_method for e in kept)),
        "ledger_rows": sum(1 for e in kept if e.source == "ledger"),
        "invalid_rows_skipped": len(errors),
    }
    return Dataset(kept, dataset_hash(kept), warnings, stats)
