"""The public outcome sets the routing benchmark evaluates on, each read from its original
layout under the data root (see ../shared/data/SOURCES.md) into one `RoutingSet`.

A set holds, per item: the prompt text, its labels (the set's own label set; SWE-bench has
two heads, route key and difficulty, as production does), each model's outcome in [0, 1]
(graded scores scaled) and each model's cost in US dollars: the real per-item cost where
the set records one (RouterBench, SWE-bench), else $/Mtok prices x token estimates.
"""

from __future__ import annotations

import ast
import csv
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from training.sources import REPO_ROOT, SourceError, load_swebench

CHARS_PER_TOKEN = 4  # rough token estimate where a set has no token counts
GPT4 = "gpt-4-1106-preview"
MIXTRAL = "mistralai/Mixtral-8x7B-Instruct-v0.1"
# $/Mtok (input, output) from LiteLLM 1.106.2's cost map: `gpt-4-1106-preview` and
# `together_ai/mistralai/Mixtral-8x7B-Instruct-v0.1`.
ROUTELLM_PRICES = {GPT4: (10.0, 30.0), MIXTRAL: (0.6, 0.6)}
LLMROUTER_OUTPUT_TOKENS = 256  # LLMRouter records no response lengths; one estimate for all
SWEBENCH_EXCLUDED = {
    "Claude 3.7 Sonnet (20250219)": "its per-instance list resolves 51/500 (10.2%) but the board lists 52.8%",
}
# The frontier tier's coding route serves anthropic/claude-sonnet-4.6 (data/tiers.yaml);
# its closest relative on the bash-only board stands in for it.
FRONTIER_CODING_STAND_IN = "Claude 4.5 Sonnet (20250929)"


@dataclass
class RoutingSet:
    name: str
    title: str
    texts: list[str]
    heads: dict[str, list[str]]  # head name -> label per item; one head, or route_key + difficulty
    models: list[str]
    outcomes: np.ndarray  # (n, m) in [0, 1]
    cost: np.ndarray  # (n, m) US dollars per item (real, or price x token estimate)
    real_cost: bool  # True: `cost` was measured per item, so decisions must estimate it
    groups: list[str]  # grouped k-fold key
    source: str
    cost_note: str
    quality_scale: float = 1.0  # native quality = outcome x scale (MT-Bench: judge score 1-10)
    quality_unit: str = "accuracy (fraction correct)"
    test_mask: np.ndarray | None = None  # official split: True for test items
    strong: str | None = None  # two-model sets: RouteLLM's strong and weak models
    weak: str | None = None
    frontier_model: str | None = None  # the frontier tier's pick where its rule applies
    frontier_note: str = ""
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, idx: np.ndarray) -> RoutingSet:
        idx = np.asarray(idx)
        return RoutingSet(
            name=self.name, title=self.title, texts=[self.texts[i] for i in idx],
            heads={h: [v[i] for i in idx] for h, v in self.heads.items()}, models=self.models,
            outcomes=self.outcomes[idx], cost=self.cost[idx], real_cost=self.real_cost,
            groups=[self.groups[i] for i in idx], source=self.source, cost_note=self.cost_note,
            quality_scale=self.quality_scale, quality_unit=self.quality_unit,
            test_mask=None if self.test_mask is None else self.test_mask[idx],
            strong=self.strong, weak=self.weak, frontier_model=self.frontier_model,
            frontier_note=self.frontier_note, notes=list(self.notes),
        )


def _path(root: Path, rel: str) -> Path:
    path = root / rel
    if not path.exists():
        raise SourceError(f"{path}: missing; fetch it from the origin listed in SOURCES.md or pass --data-root")
    return path


def _tokens(text: str) -> float:
    return len(text) / CHARS_PER_TOKEN


def _price_cost(prompts: list[str], models: list[str], prices: dict[str, tuple[float, float]],
                out_tokens: dict[str, float]) -> np.ndarray:
    tin = np.array([_tokens(t) for t in prompts])[:, None]
    pin = np.array([prices[m][0] for m in models])[None, :]
    pout = np.array([prices[m][1] for m in models])[None, :]
    tout = np.array([out_tokens[m] for m in models])[None, :]
    return (tin * pin + tout * pout) / 1e6


def _contaminated(root: Path, rel: str) -> set[str]:
    with _path(root, rel).open(encoding="utf-8") as fh:
        return {json.loads(line)["eval_prompt"] for line in fh if line.strip()}


def _truth(value: str) -> float:
    return 1.0 if value.strip().lower() == "true" else 0.0


ROUTELLM_SOURCE = "lm-sys/RouteLLM @ 0b64fdaf routellm/evals (GPT-4-1106 vs Mixtral-8x7B)"
ROUTELLM_COST_NOTE = (
    "price x tokens: LiteLLM cost-map list prices (gpt-4-1106-preview $10/$30 per Mtok in/out, "
    "Mixtral-8x7B $0.6/$0.6 via Together AI), prompt tokens = characters/4, output tokens = "
    "the model's mean response length/4 where the set has responses (GSM8K, MT-Bench), 1 for MMLU"
)


def load_gsm8k(root: Path) -> RoutingSet:
    """RouteLLM's GSM8K: 1,319 test problems minus the contaminated ones, both models' correctness."""
    bad = _contaminated(root, "routellm_evals/gsm8k/contaminated_prompts.jsonl")
    with _path(root, "routellm_evals/gsm8k/gsm8k_responses.csv").open(encoding="utf-8", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["prompt"] not in bad]
    models = [GPT4, MIXTRAL]
    texts = [r["prompt"] for r in rows]
    out = {m: float(np.mean([_tokens(r[f"{m}_response"] or "") for r in rows])) for m in models}
    return RoutingSet(
        name="gsm8k", title="RouteLLM GSM8K", texts=texts, heads={"label": ["gsm8k"] * len(rows)},
        models=models, outcomes=np.array([[_truth(r[m]) for m in models] for r in rows]),
        cost=_price_cost(texts, models, ROUTELLM_PRICES, out), real_cost=False, groups=texts,
        source=ROUTELLM_SOURCE + ", gsm8k/gsm8k_responses.csv", cost_note=ROUTELLM_COST_NOTE,
        strong=GPT4, weak=MIXTRAL,
        notes=["GSM8K carries no label of its own: the label set has one label, so the factored router "
               "sees the same expected accuracies for every prompt and can only route all-or-nothing."],
    )


def load_mmlu(root: Path) -> RoutingSet:
    """RouteLLM's MMLU: 57 subject CSVs (14,042 rows) minus the contaminated prompts; label = subject."""
    bad = _contaminated(root, "routellm_evals/mmlu/contaminated_prompts.jsonl")
    folder = _path(root, "routellm_evals/mmlu/responses")
    texts: list[str] = []
    subjects: list[str] = []
    outcomes: list[list[float]] = []
    models = [GPT4, MIXTRAL]
    for path in sorted(folder.glob("mmlu_*.csv")):
        subject = path.stem.removeprefix("mmlu_")
        with path.open(encoding="utf-8", newline="") as fh:
            for r in csv.DictReader(fh):
                if r["prompt"] in bad:
                    continue
                texts.append(r["prompt"])
                subjects.append(subject)
                outcomes.append([_truth(r[m]) for m in models])
    return RoutingSet(
        name="mmlu", title="RouteLLM MMLU", texts=texts, heads={"label": subjects}, models=models,
        outcomes=np.array(outcomes), cost=_price_cost(texts, models, ROUTELLM_PRICES, dict.fromkeys(models, 1.0)),
        real_cost=False, groups=texts, source=ROUTELLM_SOURCE + ", mmlu/responses/mmlu_*.csv",
        cost_note=ROUTELLM_COST_NOTE, strong=GPT4, weak=MIXTRAL,
    )


def load_mt_bench(root: Path) -> RoutingSet:
    """RouteLLM's MT-Bench: 80 questions minus those with a contaminated turn; quality = the
    GPT-4 judge's score (1-10) averaged over both turns; routing sees the first turn only."""
    bad = _contaminated(root, "routellm_evals/mt_bench/contaminated_prompts.jsonl")
    with _path(root, "routellm_evals/mt_bench/question.jsonl").open(encoding="utf-8") as fh:
        questions = [json.loads(line) for line in fh if line.strip()]
    questions = [q for q in questions if q["turns"][0] not in bad and q["turns"][1] not in bad]
    scores: dict[tuple[int, str], list[float]] = {}
    answer_chars: dict[str, list[float]] = {}
    with _path(root, "routellm_evals/mt_bench/judgements.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            j = json.loads(line)
            scores.setdefault((j["question_id"], j["model"]), []).append(float(j["score"]))
            if j["judge"][1].endswith("multi-turn"):  # holds both turns' questions and answers
                answer_chars.setdefault(j["model"], []).append(len(j["user_prompt"]))
    models = [GPT4, MIXTRAL]
    texts = [q["turns"][0] for q in questions]
    outcomes = np.array([[np.mean(scores[(q["question_id"], m)]) / 10.0 for m in models] for q in questions])
    prompt_chars = float(np.mean([len(q["turns"][0]) + len(q["turns"][1]) for q in questions]))
    out = {m: max(0.0, (float(np.mean(answer_chars[m])) - prompt_chars) / CHARS_PER_TOKEN) for m in models}
    return RoutingSet(
        name="mt_bench", title="RouteLLM MT-Bench", texts=texts,
        heads={"label": [q["category"] for q in questions]}, models=models, outcomes=outcomes,
        cost=_price_cost(texts, models, ROUTELLM_PRICES, out), real_cost=False, groups=texts,
        source=ROUTELLM_SOURCE + ", mt_bench/{question,judgements}.jsonl", cost_note=ROUTELLM_COST_NOTE,
        quality_scale=10.0, quality_unit="GPT-4 judge score (1-10), mean of both turns",
        strong=GPT4, weak=MIXTRAL,
    )


def load_llmrouter(root: Path) -> RoutingSet:
    """LLMRouter's dcrouter_preprocessed train/test (official split), 9 models' 0/1 scores;
    label = task_name joined from query_data by query text."""
    tasks: dict[str, str] = {}
    for split in ("train", "test"):
        with _path(root, f"llmrouter/query_data/default_query_{split}.jsonl").open(encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    d = json.loads(line)
                    tasks.setdefault(d["query"], d["task_name"])
    llms = json.loads(_path(root, "llmrouter/llm_candidates/default_llm.json").read_text(encoding="utf-8"))
    rows: list[dict] = []
    is_test: list[bool] = []
    for split in ("train", "test"):
        data = json.loads(_path(root, f"llmrouter/dcrouter_preprocessed/{split}.json").read_text(encoding="utf-8"))
        rows.extend(data)
        is_test.extend([split == "test"] * len(data))
    models = sorted(rows[0]["scores"])
    texts = [r["question"] for r in rows]
    prices = {m: (float(llms[m]["input_price"]), float(llms[m]["output_price"])) for m in models}
    return RoutingSet(
        name="llmrouter", title="LLMRouter (dcrouter split)", texts=texts,
        heads={"label": [tasks.get(t, "unknown") for t in texts]}, models=models,
        outcomes=np.array([[float(r["scores"][m]) for m in models] for r in rows]),
        cost=_price_cost(texts, models, prices, dict.fromkeys(models, LLMROUTER_OUTPUT_TOKENS)),
        real_cost=False, groups=texts, test_mask=np.array(is_test),
        source="ulab-uiuc/LLMRouter @ 4e7a7969 data/dcrouter_preprocessed/{train,test}.json, "
        "data/example_data/query_data (task_name), llm_candidates/default_llm.json (prices)",
        cost_note="price x tokens: default_llm.json $/Mtok, prompt tokens = characters/4, "
        f"output tokens = {LLMROUTER_OUTPUT_TOKENS} for every model (the set records no response lengths)",
    )


ROUTERBENCH_FILES = ("mbpp", "arc_challenge", "winograde")


def _prompt_text(raw: str) -> str:
    try:
        parts = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return raw
    return "\n\n".join(str(p) for p in parts) if isinstance(parts, list) else str(parts)


def load_routerbench(root: Path) -> RoutingSet:
    """RouterBench zero-shot rows for MBPP, ARC-Challenge and Winogrande (RouterDC's copy;
    its train and test files pooled), 11 models' correctness and real per-prompt cost."""
    csv.field_size_limit(1 << 30)
    rows: list[dict[str, str]] = []
    for name in ROUTERBENCH_FILES:
        for split in ("train", "test"):
            with _path(root, f"routerbench_subset/{name}_{split}.csv").open(encoding="utf-8", newline="") as fh:
                rows.extend(csv.DictReader(fh))
    models = sorted(k.split("|")[0] for k in rows[0] if k.endswith("|total_cost"))
    n_all = len(rows)
    rows = [r for r in rows if all(r[m].strip() for m in models)]
    texts = [_prompt_text(r["prompt"]) for r in rows]
    return RoutingSet(
        name="routerbench", title="RouterBench subset (MBPP, ARC, Winogrande)", texts=texts,
        heads={"label": [r["eval_name"] for r in rows]}, models=models,
        outcomes=np.array([[float(r[m]) for m in models] for r in rows]),
        cost=np.array([[float(r[f"{m}|total_cost"]) for m in models] for r in rows]), real_cost=True,
        groups=texts, source="shuhao02/RouterDC @ 0e63989c datasets/routerbench_zs/{mbpp,arc_challenge,winograde}_"
        "{train,test}.csv (RouterBench zero-shot rows)",
        cost_note="real per-prompt `|total_cost`; decisions use the model's mean train-fold cost for the label",
        notes=[f"dropped {n_all - len(rows)} ARC-Challenge rows with a missing outcome for some model"],
    )


def _read_labels(path: Path) -> dict[str, tuple[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return {r["row_id"]: (r["route_key"], r["difficulty"]) for r in csv.DictReader(fh)}


def load_swebench_bash_only(root: Path, labels_path: Path | None = None) -> RoutingSet:
    """SWE-bench Verified, board `bash-only`: every model with all 500 per-instance results
    (one excluded, see SWEBENCH_EXCLUDED); labels = production route key and difficulty from
    data/labels/swebench.csv; real per-instance cost; groups = repository."""
    board = json.loads(_path(root, "swebench/leaderboards_20251210.json").read_text(encoding="utf-8"))
    results = next(b for b in board["leaderboards"] if b["name"] == "bash-only")["results"]
    per_model = {
        r["name"]: r["per_instance_details"] for r in results
        if len(r.get("per_instance_details") or {}) == 500 and r["name"] not in SWEBENCH_EXCLUDED
    }
    labels = _read_labels(labels_path or REPO_ROOT / "data" / "labels" / "swebench.csv")
    rows = [r for r in load_swebench(root) if r.row_id in labels and all(r.row_id in d for d in per_model.values())]
    models = sorted(per_model)
    return RoutingSet(
        name="swebench", title="SWE-bench Verified, bash-only board", texts=[r.text for r in rows],
        heads={"route_key": [labels[r.row_id][0] for r in rows], "difficulty": [labels[r.row_id][1] for r in rows]},
        models=models,
        outcomes=np.array([[1.0 if per_model[m][r.row_id]["resolved"] else 0.0 for m in models] for r in rows]),
        cost=np.array([[float(per_model[m][r.row_id]["cost"] or 0.0) for m in models] for r in rows]),
        real_cost=True, groups=[str(r.meta.get("repo")) for r in rows],
        source="SWE-bench/swe-bench.github.io @ f1176b6 data/leaderboards.json (board bash-only, "
        "per_instance_details); task texts via training.sources.load_swebench; labels data/labels/swebench.csv",
        cost_note="real per-instance agent cost ($); decisions use the model's mean train-fold cost per cell",
        frontier_model=FRONTIER_CODING_STAND_IN,
        frontier_note="code mode -> route `coding` -> anthropic/claude-sonnet-4.6, stood in for "
        f"by {FRONTIER_CODING_STAND_IN}, its closest relative on the board",
        notes=[f"excluded {m}: {why}" for m, why in SWEBENCH_EXCLUDED.items()]
        + ["task text is the full problem statement for the tasks the public files carry, else the task title"],
    )


LOADERS: dict[str, Callable[[Path], RoutingSet]] = {
    "gsm8k": load_gsm8k,
    "mmlu": load_mmlu,
    "mt_bench": load_mt_bench,
    "llmrouter": load_llmrouter,
    "routerbench": load_routerbench,
    "swebench": load_swebench_bash_only,
}
ROUTELLM_SETS = ("gsm8k", "mmlu", "mt_bench")
