"""Loaders for the public data sets, reading each one's original layout under a data root.

Each loader yields `RawRow(source, row_id, text, meta)`; `row_id` is the natural key of
data/labels/FORMAT.md. The data root comes from `AUTOTIER_DATA_ROOT`, else
`../shared/data` next to the checkout when it exists, else `data/raw/` in the checkout.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]


class SourceError(Exception):
    """A raw file is missing or unreadable; the message names the file."""

    code = "source_unavailable"


@dataclass(frozen=True)
class RawRow:
    source: str
    row_id: str
    text: str
    meta: dict[str, Any] = field(default_factory=dict)


def default_data_root() -> Path:
    env = os.environ.get("AUTOTIER_DATA_ROOT")
    if env:
        return Path(env)
    shared = REPO_ROOT.parent / "shared" / "data"
    return shared if shared.is_dir() else REPO_ROOT / "data" / "raw"


def _open(root: Path, rel: str) -> Path:
    path = root / rel
    if not path.exists():
        raise SourceError(f"{path}: missing; fetch it from the origin listed in SOURCES.md or set AUTOTIER_DATA_ROOT")
    return path


def _jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if line.strip():
                yield i, json.loads(line)


def _join(*parts: str | None) -> str:
    return "\n\n".join(p.strip("\n") for p in parts if p and p.strip())


def load_arena_hard(root: Path) -> Iterator[RawRow]:
    for _, d in _jsonl(_open(root, "arena_hard_v0.1/question.jsonl")):
        yield RawRow("arena_hard", d["uid"], d["prompt"], {"cluster": d.get("cluster")})


def load_mt_bench(root: Path) -> Iterator[RawRow]:
    for _, d in _jsonl(_open(root, "routellm_evals/mt_bench/question.jsonl")):
        meta = {"category": d.get("category")}
        yield RawRow("mt_bench", str(d["question_id"]), d["turns"][0], meta)


def load_codechat(root: Path) -> Iterator[RawRow]:
    """Two rows per prompt pair; the second carries the first as context (`previous`)."""
    path = _open(root, "codechat/RQ2/rq2_results/1_topic7_gap_labeled.csv")
    csv.field_size_limit(1 << 30)
    seen: set[str] = set()
    with path.open(encoding="utf-8", newline="") as fh:
        for d in csv.DictReader(fh):
            conv = d["conversation_id"]
            first = (f"{conv}:{d['turn1_number']}", d["prompt1"], None)
            second = (f"{conv}:{d['turn2_number']}", d["prompt2"], d["prompt1"])
            for row_id, text, previous in (first, second):
                if row_id in seen:
                    continue
                seen.add(row_id)
                meta = {"previous": previous} if previous else {}
                yield RawRow("codechat", row_id, text, meta)


def load_codealpaca(root: Path) -> Iterator[RawRow]:
    path = _open(root, "codealpaca/code_alpaca_2k.json")
    for i, d in enumerate(json.loads(path.read_text(encoding="utf-8"))):
        yield RawRow("codealpaca", str(i), _join(d["instruction"], d.get("input")))


def load_editeval(root: Path) -> Iterator[RawRow]:
    for _, d in _jsonl(_open(root, "editeval/edit_eval.jsonl")):
        yield RawRow("editeval", d["task_id"], _join(d["instruction"], d.get("input")))


def load_swebench(root: Path) -> Iterator[RawRow]:
    """All 500 SWE-bench Verified tasks: the full problem statement where a file has it
    (verified_filtered, then the Lite classifications), else the task's one-line title."""
    csv.field_size_limit(1 << 30)
    statements: dict[str, str] = {}
    for rel in ("swebench/swe-bench-verified_filtered.csv", "swebench/swebench_lite_classifications.csv"):
        path = root / rel
        if path.exists():
            with path.open(encoding="utf-8", newline="") as fh:
                for d in csv.DictReader(fh):
                    statements.setdefault(d["instance_id"], d["problem_statement"])
    tasks = json.loads(_open(root, "swebench/verified_task_metadata.json").read_text("utf-8"))
    for d in tasks:
        iid = d["id"]
        text = statements.get(iid) or d.get("abstract_description") or ""
        meta = {
            "time_bucket": d.get("difficulty"),
            "repo": d.get("repo"),
            "text_kind": "statement" if iid in statements else "title",
        }
        yield RawRow("swebench", iid, text, meta)


def load_swebench_lite(root: Path) -> Iterator[RawRow]:
    path = _open(root, "swebench/swebench_lite_classifications.csv")
    csv.field_size_limit(1 << 30)
    with path.open(encoding="utf-8", newline="") as fh:
        for d in csv.DictReader(fh):
            yield RawRow("swebench_lite", d["instance_id"], d["problem_statement"])


def load_llmrouter(root: Path) -> Iterator[RawRow]:
    for split in ("train", "test"):
        path = _open(root, f"llmrouter/query_data/default_query_{split}.jsonl")
        for i, d in _jsonl(path):
            yield RawRow("llmrouter", f"{split}:{i}", d["query"], {"task_name": d.get("task_name")})


def load_debugbench(root: Path) -> Iterator[RawRow]:
    """GPT-4 debug files; a (file, slug) key that repeats keeps its first item."""
    folder = _open(root, "debugbench/gpt-4/debug")
    seen: set[str] = set()
    for path in sorted(folder.glob("*.json")):
        for d in json.loads(path.read_text(encoding="utf-8")):
            row_id = f"{path.stem}:{d['slug']}"
            if row_id in seen:
                continue
            seen.add(row_id)
            meta = {"level": d.get("level"), "bug_type": path.stem}
            yield RawRow("debugbench", row_id, _join(d["description"], d["buggy_code"]), meta)


def load_math500(root: Path) -> Iterator[RawRow]:
    for _, d in _jsonl(_open(root, "math500/math500_test_ori.jsonl")):
        meta = {"level": int(d["level"]), "subject": d.get("subject")}
        yield RawRow("math500", d["unique_id"], d["problem"], meta)


LOADERS: dict[str, Callable[[Path], Iterator[RawRow]]] = {
    "arena_hard": load_arena_hard,
    "mt_bench": load_mt_bench,
    "codechat": load_codechat,
    "codealpaca": load_codealpaca,
    "editeval": load_editeval,
    "swebench": load_swebench,
    "swebench_lite": load_swebench_lite,
    "llmrouter": load_llmrouter,
    "debugbench": load_debugbench,
    "math500": load_math500,
}


def iter_source(source: str, root: Path | None = None) -> Iterator[RawRow]:
    """Rows of one source; raises KeyError for an unknown name, SourceError for a missing file."""
    return LOADERS[source](Path(root) if root is not None else default_data_root())


def load_source(source: str, root: Path | None = None) -> dict[str, RawRow]:
    """All rows of one source keyed by row id."""
    return {r.row_id: r for r in iter_source(source, root)}


def request_of(row: RawRow) -> dict[str, Any]:
    """The request a row stands for: a one-turn prompt, or two user turns for follow-ups."""
    previous = row.meta.get("previous")
    if previous:
        return {
            "messages": [
                {"role": "user", "content": previous},
                {"role": "user", "content": row.text},
            ]
        }
    return {"prompt": row.text}
