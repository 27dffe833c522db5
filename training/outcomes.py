"""Per-item benchmark outcomes, read from each public set's original layout.

Each `read_*` is the one parser of a public outcome set's raw files: rows as the files
hold them, each model's outcome parsed to a float, less what no consumer may use (prompts
RouteLLM lists as contaminated). Two consumers shape them: each `load_*` here returns
`Outcomes`, (model, cell, outcome in [0, 1]) records in the set's own label set plus what
a table's provenance needs (files read, row counts, exclusions); training.bench.sets
builds the routing benchmark's prompt x model matrices. The aggregate boards (SWE-bench
listed rates, Aider polyglot) come back as plain name -> rate maps; they carry no
per-item outcomes and only inform priors. A missing file raises SourceError naming it.
"""

from __future__ import annotations

import csv
import glob
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from router.accuracy import cell_key
from training.sources import REPO_ROOT, SourceError

# From ../shared/data/SOURCES.md: where each folder came from and under which licence.
SOURCE_INFO: dict[str, dict[str, str]] = {
    "swebench": {
        "upstream": "SWE-bench/swe-bench.github.io@f1176b6 data/leaderboards.json "
        "(saved as leaderboards_20251210.json); cells from autotier's hand labels data/labels/swebench.csv",
        "licence": "CC BY-NC 4.0 (site data): research and evaluation use only",
    },
    "debugbench": {
        "upstream": "thunlp/DebugBench@2761bab9 evalution_result/{gpt-4,gpt-35-turbo}/debug",
        "licence": "Apache-2.0",
    },
    "livecodebench": {
        "upstream": "LiveCodeBench/livecodebench.github.io src/mocks/performances_generation.json @83b6481b "
        "(2025-04-22) and @33505c07 (2025-01-15)",
        "licence": "CC BY-SA 4.0 (site)",
    },
    "routerbench": {
        "upstream": "shuhao02/RouterDC@0e63989c datasets/routerbench_zs/*.csv",
        "licence": "RouterBench is MIT; the RouterDC copy has no licence file: research and evaluation use only",
    },
    "llmrouter": {
        "upstream": "ulab-uiuc/LLMRouter@4e7a7969 data/dcrouter_preprocessed, data/example_data/query_data",
        "licence": "MIT",
    },
    "routellm": {
        "upstream": "lm-sys/RouteLLM@0b64fdaf routellm/evals/{gsm8k,mmlu,mt_bench}",
        "licence": "Apache-2.0",
    },
    "aider": {
        "upstream": "Aider-AI/aider@5dc9490b aider/website/_data/polyglot_leaderboard.yml",
        "licence": "Apache-2.0",
    },
    "wildbench": {
        "upstream": "allenai/WildBench@d6b8dcaf leaderboard/data_dir/all_stat_wildbench.-1.json",
        "licence": "Apache-2.0",
    },
}

SWEBENCH_BOARD = "swebench/leaderboards_20251210.json"
SWEBENCH_LABELS = REPO_ROOT / "data" / "labels" / "swebench.csv"
# A per-instance list may differ from the listed rate by rounding (a listed 64.93 is
# 324.65 of 500); more than this many tasks apart and the list is not the listed run.
SWEBENCH_TOLERANCE = 1.0
DEBUGBENCH_LEVELS = {"easy": "low", "medium": "medium", "hard": "high"}
ROUTERBENCH_FILES = ("mbpp", "arc_challenge", "winograde")
ROUTELLM = "routellm_evals"
ROUTELLM_MODELS = ("gpt-4-1106-preview", "mistralai/Mixtral-8x7B-Instruct-v0.1")  # RouteLLM's strong, weak


@dataclass
class Outcomes:
    source: str
    records: list[tuple[str, str, float]]
    cells: list[str]
    files: list[Path]
    counts: dict[str, Any] = field(default_factory=dict)
    exclusions: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    models: dict[str, dict[str, Any]] = field(default_factory=dict)  # per-model facts for provenance


@dataclass
class RawRows:
    """One set's rows as its files hold them, each model's outcome column parsed to a float."""

    rows: list[dict[str, Any]]
    models: list[str]  # the models with an outcome in every row, sorted
    files: list[Path]  # every file read, in reading order
    dropped: int = 0  # rows left out because RouteLLM lists their prompt as contaminated


@dataclass
class SwebenchRuns:
    """The bash-only board's per-instance lists, each entry's `per_instance_details` parsed
    to instance id -> {"resolved": 1.0 or 0.0, "cost": US dollars (0 where unrecorded)}."""

    runs: list[dict[str, Any]]  # board entries whose list is the listed run (board order)
    resolved: dict[str, int]  # run name -> tasks its list resolves
    mismatched: list[tuple[str, int, int, float]]  # (name, resolved, instances, listed %): another run, excluded
    no_list: list[str]  # entries with an aggregate rate only
    labels: dict[str, tuple[str, str]]  # instance id -> (route key, difficulty), our hand labels
    files: list[Path]


def raw_file(path: Path) -> Path:
    """`path`, or SourceError naming it when it does not exist."""
    if not path.exists():
        raise SourceError(f"{path}: missing; fetch it from the origin listed in SOURCES.md or pass --data-root")
    return path


def _truth(value: Any) -> float:
    return 1.0 if value is True or str(value).strip().lower() == "true" else 0.0


def _csv_rows(path: Path) -> list[dict[str, str]]:
    csv.field_size_limit(1 << 30)
    with raw_file(path).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _jsonl(path: Path) -> list[dict[str, Any]]:
    with raw_file(path).open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _contaminated(folder: Path) -> set[str]:
    return {d["eval_prompt"] for d in _jsonl(folder / "contaminated_prompts.jsonl")}


# --- SWE-bench bash-only --------------------------------------------------------------

def swebench_board(root: Path, board: str = "bash-only") -> list[dict[str, Any]]:
    """The results of one SWE-bench leaderboard (name, listed `resolved` %, cost, ...)."""
    data = json.loads(raw_file(root / SWEBENCH_BOARD).read_text(encoding="utf-8"))
    for entry in data["leaderboards"]:
        if entry["name"] == board:
            return list(entry["results"])
    raise SourceError(f"{root / SWEBENCH_BOARD}: no leaderboard named {board!r}")


def read_swebench(root: Path, labels_path: Path = SWEBENCH_LABELS) -> SwebenchRuns:
    """Bash-only per-instance lists and our hand labels. A list whose resolved count is more
    than SWEBENCH_TOLERANCE tasks from its listed rate is not the listed run (`mismatched`)."""
    labels = {r["row_id"]: (r["route_key"], r["difficulty"]) for r in _csv_rows(labels_path)
              if r["source"] == "swebench"}
    out = SwebenchRuns([], {}, [], [], labels, [root / SWEBENCH_BOARD, labels_path])
    for res in swebench_board(root):
        details = res.get("per_instance_details")
        if not details:
            out.no_list.append(res["name"])
            continue
        for d in details.values():
            d["resolved"], d["cost"] = _truth(d.get("resolved")), float(d.get("cost") or 0.0)
        k, n = sum(1 for d in details.values() if d["resolved"]), len(details)
        if abs(k - res["resolved"] / 100 * n) > SWEBENCH_TOLERANCE:
            out.mismatched.append((res["name"], k, n, res["resolved"]))
        else:
            out.runs.append(res)
            out.resolved[res["name"]] = k
    return out


def load_swebench(root: Path, labels_path: Path = SWEBENCH_LABELS) -> Outcomes:
    """Bash-only per-instance `resolved`, cells = our route key|difficulty labels. A model
    whose list disagrees with its listed rate by more than SWEBENCH_TOLERANCE tasks is
    excluded; a smaller (rounding) gap is kept and flagged."""
    swe = read_swebench(root, labels_path)
    out = Outcomes("swebench", [], [], swe.files)
    out.exclusions += [f"{name}: per-instance list resolves {k}/{n} ({100 * k / n:.1f}%) but the listed rate is "
                       f"{listed}%: excluded (the list is not the listed run)" for name, k, n, listed in swe.mismatched]
    unlabelled: set[str] = set()
    for res in swe.runs:
        name, details = res["name"], res["per_instance_details"]
        k, n = swe.resolved[name], len(details)
        facts = {
            "listed_resolved_pct": res["resolved"], "instances": n, "resolved": k,
            "mean_instance_cost_usd": round(sum(d["cost"] for d in details.values()) / n, 6),
            "date": res.get("date"), "folder": res.get("folder"),
        }
        if k != round(res["resolved"] / 100 * n):
            facts["flag"] = (f"list resolves {k}/{n} = {100 * k / n:.2f}% vs listed {res['resolved']}% "
                             "(rounding-size gap, kept)")
        out.models[name] = facts
        for iid, d in sorted(details.items()):
            if iid in swe.labels:
                out.records.append((name, cell_key(*swe.labels[iid]), d["resolved"]))
            else:
                unlabelled.add(iid)
    out.cells = sorted({c for _, c, _ in out.records})
    out.counts = {"models": len(out.models), "records": len(out.records), "labelled_instances": len(swe.labels)}
    if swe.no_list:
        out.notes.append(f"no per-instance list (aggregate rate only): {', '.join(swe.no_list)}")
    if unlabelled:
        out.exclusions.append(f"{len(unlabelled)} instance ids without a hand label were skipped")
    return out


def swebench_difficulty_records(out: Outcomes) -> list[tuple[str, str, float]]:
    """The same outcomes keyed by difficulty alone (the model's per-difficulty marginal)."""
    return [(m, c.rsplit("|", 1)[1], y) for m, c, y in out.records]


# --- DebugBench -----------------------------------------------------------------------

def read_debugbench(root: Path) -> tuple[list[dict[str, Any]], list[Path], int]:
    """DebugBench debug-setting rows of GPT-4 and GPT-3.5: `model`, `item` (file stem and
    slug, plus the buggy code's position among that slug's distinct versions), `level`
    (low/medium/high from easy/medium/hard), `outcome`. Exact repeats (same file, slug
    and buggy code) count once; returns (rows, files read, repeats dropped)."""
    rows: list[dict[str, Any]] = []
    files_read: list[Path] = []
    dupes = 0
    for model in ("gpt-4", "gpt-35-turbo"):
        files = sorted(Path(p) for p in glob.glob(str(raw_file(root / "debugbench" / model / "debug") / "*.json")))
        files_read += files
        seen: dict[tuple[str, str, str], None] = {}
        versions: dict[tuple[str, str], dict[str, int]] = {}
        for path in files:
            for d in json.loads(path.read_text(encoding="utf-8")):
                key = (path.stem, d["slug"], d["buggy_code"])
                if key in seen:
                    dupes += 1
                    continue
                seen[key] = None
                seen_codes = versions.setdefault((path.stem, d["slug"]), {})
                version = seen_codes.setdefault(d["buggy_code"], len(seen_codes))
                rows.append({"model": model, "item": f"{path.stem}:{d['slug']}:{version}",
                             "level": DEBUGBENCH_LEVELS[d["level"]], "outcome": _truth(d["test_result_bool"])})
    return rows, files_read, dupes


def load_debugbench(root: Path) -> Outcomes:
    """`test_result_bool` in the debug setting; cells debugging/bug_fixing|<level> with
    DebugBench's easy/medium/hard read as low/medium/high. Exact repeats (same file,
    slug and buggy code) count once."""
    rows, files, dupes = read_debugbench(root)
    out = Outcomes("debugbench", [], [], files)
    out.records = [(r["model"], cell_key("debugging/bug_fixing", r["level"]), r["outcome"]) for r in rows]
    out.cells = [cell_key("debugging/bug_fixing", lv) for lv in ("low", "medium", "high")]
    out.counts = {"records": len(out.records), "files": len(out.files)}
    out.exclusions.append(f"{dupes} exact repeats (same file, slug and buggy code; both models together) counted once")
    out.notes.append("cells: DebugBench level easy/medium/hard -> low/medium/high; setting: debug")
    return out


# --- LiveCodeBench --------------------------------------------------------------------

LIVECODEBENCH_FILES = ("performances_generation_2025-04-22.json", "performances_generation_2025-01-15.json")


def read_livecodebench(root: Path) -> tuple[list[dict[str, Any]], list[Path]]:
    """LiveCodeBench code-generation rows (`question_id`, `model`, `difficulty`
    easy/medium/hard, `pass@1` 0-100, `platform`, `date`), newest snapshot first: a
    (model, question) pair in both snapshots is taken from the newer one."""
    rows: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    files = [raw_file(root / "livecodebench" / name) for name in LIVECODEBENCH_FILES]
    for path in files:
        for r in json.loads(path.read_text(encoding="utf-8"))["performances"]:
            key = (r["model"], r["question_id"])
            if key not in seen:
                seen.add(key)
                rows.append(r)
    return rows, files


# --- RouterBench subset ---------------------------------------------------------------

def read_routerbench(root: Path) -> RawRows:
    """RouterDC's RouterBench zero-shot rows, train then test file of each of
    ROUTERBENCH_FILES: `sample_id`, `prompt`, `eval_name`, per model its outcome (None
    where blank) and `<model>|total_cost`. A `sample_id` may repeat."""
    out = RawRows([], [], [])
    for stem in ROUTERBENCH_FILES:
        for split in ("train", "test"):
            out.files.append(root / "routerbench_subset" / f"{stem}_{split}.csv")
            out.rows += _csv_rows(out.files[-1])
    out.models = sorted(k.split("|")[0] for k in out.rows[0] if k.endswith("|total_cost"))
    for r in out.rows:
        for m in out.models:
            r[m] = float(r[m]) if r[m].strip() else None
    return out


def load_routerbench(root: Path) -> Outcomes:
    """Per-prompt correctness of 11 models; cells = `eval_name` (train and test files
    together; a `sample_id` seen twice counts once)."""
    raw = read_routerbench(root)
    out = Outcomes("routerbench", [], [], raw.files)
    seen: set[str] = set()
    dupes = blank = 0
    for r in raw.rows:
        if r["sample_id"] in seen:
            dupes += 1
            continue
        seen.add(r["sample_id"])
        blank += sum(r[m] is None for m in raw.models)
        out.records += [(m, r["eval_name"], r[m]) for m in raw.models if r[m] is not None]
    out.cells = sorted({c for _, c, _ in out.records})
    out.counts = {"prompts": len(seen), "records": len(out.records)}
    out.exclusions.append(f"{dupes} repeated sample ids counted once; {blank} blank (model, prompt) outcomes skipped")
    out.notes.append("cell `mbpp` is the nearest public stand-in for production route key "
                     "implementation/code_generation (self-contained function from a spec); arc-challenge and "
                     "winogrande are multiple-choice reasoning with no production route key")
    return out


# --- LLMRouter ------------------------------------------------------------------------

def read_llmrouter(root: Path) -> RawRows:
    """dcrouter_preprocessed train then test rows (`question`, `scores` model -> 0/1), each
    with its `split` and `task_names`: the task names query_data lists for its text, first
    listed first (none, one, or several for a text listed under two tasks)."""
    out = RawRows([], [], [])
    names: dict[str, dict[str, None]] = {}  # an ordered set per query text
    for split in ("train", "test"):
        out.files.append(root / "llmrouter" / "query_data" / f"default_query_{split}.jsonl")
        for d in _jsonl(out.files[-1]):
            names.setdefault(d["query"], {})[d["task_name"]] = None
    for split in ("train", "test"):
        out.files.append(raw_file(root / "llmrouter" / "dcrouter_preprocessed" / f"{split}.json"))
        for d in json.loads(out.files[-1].read_text(encoding="utf-8")):
            scores = {m: float(s) for m, s in d["scores"].items()}
            out.rows.append({**d, "scores": scores, "split": split, "task_names": list(names.get(d["question"], ()))})
    out.models = sorted(out.rows[0]["scores"])
    return out


def load_llmrouter(root: Path) -> Outcomes:
    """0/1 scores of 9 open models; the cell is the query's `task_name`, joined by query
    text from query_data. Queries whose text carries two task names are skipped."""
    raw = read_llmrouter(root)
    out = Outcomes("llmrouter", [], [], raw.files)
    single = [r for r in raw.rows if len(r["task_names"]) == 1]
    for r in single:
        out.records += [(m, r["task_names"][0], s) for m, s in r["scores"].items()]
    out.cells = sorted({c for _, c, _ in out.records})
    out.counts = {"queries": len(single), "records": len(out.records)}
    out.exclusions.append(f"{len(raw.rows) - len(single)} queries with no single task_name (text listed under two "
                          "tasks) skipped")
    return out


# --- RouteLLM eval sets ---------------------------------------------------------------

def read_gsm8k(root: Path) -> RawRows:
    """RouteLLM's GSM8K rows: `prompt`, per model its correctness and `<model>_response`."""
    folder = root / ROUTELLM / "gsm8k"
    bad = _contaminated(folder)
    rows = _csv_rows(folder / "gsm8k_responses.csv")
    out = RawRows([], sorted(ROUTELLM_MODELS), [folder / "gsm8k_responses.csv", folder / "contaminated_prompts.jsonl"])
    for r in rows:
        if r["prompt"] in bad:
            out.dropped += 1
        else:
            out.rows.append(r | {m: _truth(r[m]) for m in out.models})
    return out


def read_mmlu(root: Path) -> RawRows:
    """RouteLLM's MMLU rows from the 57 subject files in name order: `prompt`, per model its
    correctness, and `subject` (the file's)."""
    folder = root / ROUTELLM / "mmlu"
    bad = _contaminated(folder)
    out = RawRows([], sorted(ROUTELLM_MODELS), [folder / "contaminated_prompts.jsonl"])
    for path in sorted(raw_file(folder / "responses").glob("mmlu_*.csv")):
        out.files.append(path)
        subject = path.stem.removeprefix("mmlu_")
        for r in _csv_rows(path):
            if r["prompt"] in bad:
                out.dropped += 1
            else:
                out.rows.append(r | {m: _truth(r[m]) for m in out.models} | {"subject": subject})
    return out


def read_mt_bench(root: Path) -> tuple[RawRows, list[dict[str, Any]]]:
    """RouteLLM's MT-Bench: the questions (`question_id`, `category`, `turns`), those with a
    contaminated turn left out (`dropped` counts them), and every GPT-4 judgement in file
    order, also those of left-out questions (`question_id`, `model`, `judge`,
    `user_prompt`, `score` 1-10 as a float; one per judged turn)."""
    folder = root / ROUTELLM / "mt_bench"
    bad = _contaminated(folder)
    questions = _jsonl(folder / "question.jsonl")
    kept = [q for q in questions if not bad.intersection(q["turns"])]
    judgements = [d | {"score": float(d["score"])} for d in _jsonl(folder / "judgements.jsonl")]
    files = [folder / "question.jsonl", folder / "contaminated_prompts.jsonl", folder / "judgements.jsonl"]
    return RawRows(kept, sorted(ROUTELLM_MODELS), files, len(questions) - len(kept)), judgements


def load_routellm(root: Path) -> Outcomes:
    """GSM8K and MMLU correctness (cells `gsm8k`, `mmlu/<subject>`) and MT-Bench GPT-4
    judge scores (cells `mt_bench/<category>`), scaled (score - 1) / 9 to [0, 1] and
    counted as graded outcomes, one per judged turn. Prompts RouteLLM lists as
    contaminated are excluded, as RouteLLM does."""
    gsm, mmlu = read_gsm8k(root), read_mmlu(root)
    mt, judgements = read_mt_bench(root)
    out = Outcomes("routellm", [], [], gsm.files + mmlu.files + mt.files)
    out.records += [(m, "gsm8k", r[m]) for r in gsm.rows for m in ROUTELLM_MODELS]
    out.records += [(m, f"mmlu/{r['subject']}", r[m]) for r in mmlu.rows for m in ROUTELLM_MODELS]
    dropped = Counter({"gsm8k rows": gsm.dropped, "mmlu rows": mmlu.dropped})
    category = {q["question_id"]: q["category"] for q in mt.rows}
    for d in judgements:
        if d["question_id"] not in category:
            dropped["mt_bench judged turns"] += 1
        elif not 1 <= d["score"] <= 10:
            dropped["mt_bench judgements without a 1-10 score"] += 1
        else:
            out.records.append((d["model"], f"mt_bench/{category[d['question_id']]}", (d["score"] - 1) / 9))
    out.cells = sorted({c for _, c, _ in out.records})
    out.counts = {"records": len(out.records), "by_set": dict(Counter(c.split("/")[0] for _, c, _ in out.records))}
    out.exclusions += [f"{what}: {n} excluded (prompt listed in contaminated_prompts.jsonl)"
                       for what, n in sorted(dropped.items()) if n]
    out.notes.append("MT-Bench: GPT-4 judge score 1-10 scaled to (score - 1) / 9 and counted as a fractional "
                     "success (not thresholded); one record per judged turn (2 per question)")
    return out
