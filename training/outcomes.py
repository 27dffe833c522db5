"""Per-item benchmark outcomes, read from each public set's original layout.

Each `load_*` returns `Outcomes`: (model, cell, outcome in [0, 1]) records in the set's
own label set, plus what a table's provenance needs (files read, row counts, exclusions).
The aggregate boards (SWE-bench listed rates, Aider polyglot) come back as plain
name -> rate maps; they carry no per-item outcomes and only inform priors.
"""

from __future__ import annotations

import csv
import glob
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from router.accuracy import cell_key

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
SWEBENCH_LABELS = "data/labels/swebench.csv"
# A per-instance list may differ from the listed rate by rounding (a listed 64.93 is
# 324.65 of 500); more than this many tasks apart and the list is not the listed run.
SWEBENCH_TOLERANCE = 1.0
DEBUGBENCH_LEVELS = {"easy": "low", "medium": "medium", "hard": "high"}


class OutcomeError(Exception):
    """A raw file is missing or not in the expected layout; the message names the file."""

    code = "outcomes_unavailable"


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


def _need(path: Path) -> Path:
    if not path.exists():
        raise OutcomeError(f"{path}: missing; fetch it from the origin listed in SOURCES.md or pass --data-root")
    return path


def _truth(value: Any) -> float:
    return 1.0 if value is True or str(value).strip().lower() == "true" else 0.0


def _csv_rows(path: Path) -> list[dict[str, str]]:
    csv.field_size_limit(1 << 30)
    with _need(path).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _jsonl(path: Path) -> list[dict[str, Any]]:
    with _need(path).open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


# --- SWE-bench bash-only --------------------------------------------------------------

def swebench_board(root: Path, board: str = "bash-only") -> list[dict[str, Any]]:
    """The results of one SWE-bench leaderboard (name, listed `resolved` %, cost, ...)."""
    data = json.loads(_need(root / SWEBENCH_BOARD).read_text(encoding="utf-8"))
    for entry in data["leaderboards"]:
        if entry["name"] == board:
            return list(entry["results"])
    raise OutcomeError(f"{root / SWEBENCH_BOARD}: no leaderboard named {board!r}")


def read_swebench_labels(path: Path) -> dict[str, tuple[str, str]]:
    """instance id -> (route key, difficulty) from our hand labels."""
    return {r["row_id"]: (r["route_key"], r["difficulty"]) for r in _csv_rows(path) if r["source"] == "swebench"}


def load_swebench(root: Path, labels_path: Path) -> Outcomes:
    """Bash-only per-instance `resolved`, cells = our route key|difficulty labels. A model
    whose list disagrees with its listed rate by more than SWEBENCH_TOLERANCE tasks is
    excluded; a smaller (rounding) gap is kept and flagged."""
    labels = read_swebench_labels(labels_path)
    out = Outcomes("swebench", [], [], [root / SWEBENCH_BOARD, labels_path])
    no_list: list[str] = []
    unlabelled: Counter[str] = Counter()
    for res in swebench_board(root):
        name, details = res["name"], res.get("per_instance_details")
        if not details:
            no_list.append(name)
            continue
        n = len(details)
        k = sum(1 for d in details.values() if d.get("resolved"))
        expected = res["resolved"] / 100 * n
        facts = {
            "listed_resolved_pct": res["resolved"], "instances": n, "resolved": k,
            "mean_instance_cost_usd": round(sum(d.get("cost") or 0 for d in details.values()) / n, 6),
            "date": res.get("date"), "folder": res.get("folder"),
        }
        if abs(k - expected) > SWEBENCH_TOLERANCE:
            out.exclusions.append(
                f"{name}: per-instance list resolves {k}/{n} ({100 * k / n:.1f}%) but the listed rate is "
                f"{res['resolved']}%: excluded (the list is not the listed run)"
            )
            continue
        if k != round(expected):
            facts["flag"] = (f"list resolves {k}/{n} = {100 * k / n:.2f}% vs listed {res['resolved']}% "
                             "(rounding-size gap, kept)")
        out.models[name] = facts
        for iid, d in sorted(details.items()):
            label = labels.get(iid)
            if label is None:
                unlabelled[iid] += 1
                continue
            out.records.append((name, cell_key(*label), _truth(d.get("resolved"))))
    out.cells = sorted({c for _, c, _ in out.records})
    out.counts = {"models": len(out.models), "records": len(out.records), "labelled_instances": len(labels)}
    if no_list:
        out.notes.append(f"no per-instance list (aggregate rate only): {', '.join(no_list)}")
    if unlabelled:
        out.exclusions.append(f"{len(unlabelled)} instance ids without a hand label were skipped")
    return out


def swebench_difficulty_records(out: Outcomes) -> list[tuple[str, str, float]]:
    """The same outcomes keyed by difficulty alone (the model's per-difficulty marginal)."""
    return [(m, c.rsplit("|", 1)[1], y) for m, c, y in out.records]


# --- DebugBench -----------------------------------------------------------------------

def load_debugbench(root: Path) -> Outcomes:
    """`test_result_bool` in the debug setting; cells debugging/bug_fixing|<level> with
    DebugBench's easy/medium/hard read as low/medium/high. Exact repeats (same file,
    slug and buggy code) count once."""
    out = Outcomes("debugbench", [], [], [])
    dupes = 0
    for model in ("gpt-4", "gpt-35-turbo"):
        files = sorted(Path(p) for p in glob.glob(str(_need(root / "debugbench" / model / "debug") / "*.json")))
        out.files += files
        seen: set[tuple[str, str, str]] = set()
        for path in files:
            for d in json.loads(path.read_text(encoding="utf-8")):
                key = (path.stem, d["slug"], d["buggy_code"])
                if key in seen:
                    dupes += 1
                    continue
                seen.add(key)
                cell = cell_key("debugging/bug_fixing", DEBUGBENCH_LEVELS[d["level"]])
                out.records.append((model, cell, _truth(d["test_result_bool"])))
    out.cells = [cell_key("debugging/bug_fixing", lv) for lv in ("low", "medium", "high")]
    out.counts = {"records": len(out.records), "files": len(out.files)}
    out.exclusions.append(f"{dupes} exact repeats (same file, slug and buggy code; both models together) counted once")
    out.notes.append("cells: DebugBench level easy/medium/hard -> low/medium/high; setting: debug")
    return out


# --- RouterBench subset ---------------------------------------------------------------

ROUTERBENCH_FILES = ("mbpp", "arc_challenge", "winograde")


def load_routerbench(root: Path) -> Outcomes:
    """Per-prompt correctness of 11 models; cells = `eval_name` (train and test files
    together; a `sample_id` seen twice counts once)."""
    out = Outcomes("routerbench", [], [], [])
    seen: set[str] = set()
    dupes = blank = 0
    for stem in ROUTERBENCH_FILES:
        for split in ("train", "test"):
            path = root / "routerbench_subset" / f"{stem}_{split}.csv"
            out.files.append(path)
            rows = _csv_rows(path)
            models = [k for k in rows[0] if k and "|" not in k and k not in ("sample_id", "prompt", "eval_name",
                                                                              "oracle_model_to_route_to")]
            for r in rows:
                if r["sample_id"] in seen:
                    dupes += 1
                    continue
                seen.add(r["sample_id"])
                for m in models:
                    if r[m].strip() == "":
                        blank += 1
                        continue
                    out.records.append((m, r["eval_name"], float(r[m])))
    out.cells = sorted({c for _, c, _ in out.records})
    out.counts = {"prompts": len(seen), "records": len(out.records)}
    out.exclusions.append(f"{dupes} repeated sample ids counted once; {blank} blank (model, prompt) outcomes skipped")
    out.notes.append("cell `mbpp` is the nearest public stand-in for production route key "
                     "implementation/code_generation (self-contained function from a spec); arc-challenge and "
                     "winogrande are multiple-choice reasoning with no production route key")
    return out


# --- LLMRouter ------------------------------------------------------------------------

def load_llmrouter(root: Path) -> Outcomes:
    """0/1 scores of 9 open models; the cell is the query's `task_name`, joined by query
    text from query_data. Queries whose text carries two task names are skipped."""
    out = Outcomes("llmrouter", [], [], [])
    tasks: dict[str, set[str]] = {}
    for split in ("train", "test"):
        path = root / "llmrouter" / "query_data" / f"default_query_{split}.jsonl"
        out.files.append(path)
        for d in _jsonl(path):
            tasks.setdefault(d["query"], set()).add(d["task_name"])
    ambiguous = 0
    rows = 0
    for split in ("train", "test"):
        path = _need(root / "llmrouter" / "dcrouter_preprocessed" / f"{split}.json")
        out.files.append(path)
        for d in json.loads(path.read_text(encoding="utf-8")):
            names = tasks.get(d["question"], set())
            if len(names) != 1:
                ambiguous += 1
                continue
            rows += 1
            task = next(iter(names))
            out.records += [(m, task, float(s)) for m, s in d["scores"].items()]
    out.cells = sorted({c for _, c, _ in out.records})
    out.counts = {"queries": rows, "records": len(out.records)}
    out.exclusions.append(f"{ambiguous} queries with no single task_name (text listed under two tasks) skipped")
    return out


# --- RouteLLM eval sets ---------------------------------------------------------------

ROUTELLM_MODELS = ("gpt-4-1106-preview", "mistralai/Mixtral-8x7B-Instruct-v0.1")


def _contaminated(path: Path) -> set[str]:
    return {d["eval_prompt"] for d in _jsonl(path)}


def load_routellm(root: Path) -> Outcomes:
    """GSM8K and MMLU correctness (cells `gsm8k`, `mmlu/<subject>`) and MT-Bench GPT-4
    judge scores (cells `mt_bench/<category>`), scaled (score - 1) / 9 to [0, 1] and
    counted as graded outcomes, one per judged turn. Prompts RouteLLM lists as
    contaminated are excluded, as RouteLLM does."""
    base = root / "routellm_evals"
    out = Outcomes("routellm", [], [], [])
    dropped: Counter[str] = Counter()

    gsm = base / "gsm8k" / "gsm8k_responses.csv"
    bad = _contaminated(base / "gsm8k" / "contaminated_prompts.jsonl")
    out.files += [gsm, base / "gsm8k" / "contaminated_prompts.jsonl"]
    for r in _csv_rows(gsm):
        if r["prompt"] in bad:
            dropped["gsm8k rows"] += 1
            continue
        out.records += [(m, "gsm8k", _truth(r[m])) for m in ROUTELLM_MODELS]

    bad = _contaminated(base / "mmlu" / "contaminated_prompts.jsonl")
    out.files.append(base / "mmlu" / "contaminated_prompts.jsonl")
    for path in sorted((base / "mmlu" / "responses").glob("mmlu_*.csv")):
        out.files.append(path)
        cell = "mmlu/" + path.stem.removeprefix("mmlu_")
        for r in _csv_rows(path):
            if r["prompt"] in bad:
                dropped["mmlu rows"] += 1
                continue
            out.records += [(m, cell, _truth(r[m])) for m in ROUTELLM_MODELS]

    questions = _jsonl(base / "mt_bench" / "question.jsonl")
    bad = _contaminated(base / "mt_bench" / "contaminated_prompts.jsonl")
    category = {str(q["question_id"]): q["category"] for q in questions}
    excluded_ids = {str(q["question_id"]) for q in questions if q["turns"][0] in bad}
    judgements = base / "mt_bench" / "judgements.jsonl"
    out.files += [base / "mt_bench" / "question.jsonl", base / "mt_bench" / "contaminated_prompts.jsonl", judgements]
    for d in _jsonl(judgements):
        qid = str(d["question_id"])
        if qid in excluded_ids:
            dropped["mt_bench judged turns"] += 1
            continue
        score = float(d["score"])
        if not 1 <= score <= 10:
            dropped["mt_bench judgements without a 1-10 score"] += 1
            continue
        out.records.append((d["model"], f"mt_bench/{category[qid]}", (score - 1) / 9))
    out.cells = sorted({c for _, c, _ in out.records})
    out.counts = {"records": len(out.records), "by_set": dict(Counter(c.split("/")[0] for _, c, _ in out.records))}
    out.exclusions += [f"{what}: {n} excluded (prompt listed in contaminated_prompts.jsonl)"
                       for what, n in sorted(dropped.items())]
    out.notes.append("MT-Bench: GPT-4 judge score 1-10 scaled to (score - 1) / 9 and counted as a fractional "
                     "success (not thresholded); one record per judged turn (2 per question)")
    return out


# --- aggregate boards (priors only) ---------------------------------------------------

AIDER_POLYGLOT = "aider/polyglot_leaderboard.yml"


def aider_polyglot(root: Path) -> dict[str, float]:
    """Aider polyglot `model` -> pass_rate_2 as a fraction; a name listed twice is left out
    (ambiguous)."""
    rows = yaml.safe_load(_need(root / AIDER_POLYGLOT).read_text(encoding="utf-8"))
    names = Counter(r["model"] for r in rows)
    return {r["model"]: float(r["pass_rate_2"]) / 100 for r in rows if names[r["model"]] == 1}


WILDBENCH = "wildbench/all_stat_wildbench.-1.json"


def wildbench_scores(root: Path, categories: tuple[str, ...]) -> dict[str, tuple[float, ...]]:
    """WildBench model -> its WB scores for `categories` (models missing one are left out)."""
    data = json.loads(_need(root / WILDBENCH).read_text(encoding="utf-8"))
    out = {}
    for model, stats in data.items():
        vals = [stats.get(f"WB_score.{c}") for c in categories]
        if all(isinstance(v, (int, float)) for v in vals):
            out[model] = tuple(float(v) for v in vals)  # type: ignore[arg-type]
    return out
