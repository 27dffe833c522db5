"""The public outcome sets the routing benchmark evaluates on, each read from its original
layout under the data root (see ../shared/data/SOURCES.md) into one `RoutingSet`.

A set holds, per item: the prompt text, its labels (the set's own label set; SWE-bench has
two heads, route key and difficulty, as production does), each model's outcome in [0, 1]
(graded scores scaled) and each model's cost in US dollars: the real per-item cost where
the set records one (RouterBench, SWE-bench), else $/Mtok prices x token estimates.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from training.outcomes import (
    ROUTELLM_MODELS,
    SWEBENCH_LABELS,
    raw_file,
    read_gsm8k,
    read_llmrouter,
    read_mmlu,
    read_mt_bench,
    read_routerbench,
    read_swebench,
)
from training.sources import load_swebench

CHARS_PER_TOKEN = 4  # rough token estimate where a set has no token counts
GPT4, MIXTRAL = ROUTELLM_MODELS
# $/Mtok (input, output) from LiteLLM 1.106.2's cost map: `gpt-4-1106-preview` and
# `together_ai/mistralai/Mixtral-8x7B-Instruct-v0.1`.
ROUTELLM_PRICES = {GPT4: (10.0, 30.0), MIXTRAL: (0.6, 0.6)}
LLMROUTER_OUTPUT_TOKENS = 256  # LLMRouter records no response lengths; one estimate for all
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


def _tokens(text: str) -> float:
    return len(text) / CHARS_PER_TOKEN


def _price_cost(prompts: list[str], models: list[str], prices: dict[str, tuple[float, float]],
                out_tokens: dict[str, float]) -> np.ndarray:
    tin = np.array([_tokens(t) for t in prompts])[:, None]
    pin = np.array([prices[m][0] for m in models])[None, :]
    pout = np.array([prices[m][1] for m in models])[None, :]
    tout = np.array([out_tokens[m] for m in models])[None, :]
    return (tin * pin + tout * pout) / 1e6


ROUTELLM_SOURCE = "lm-sys/RouteLLM @ 0b64fdaf routellm/evals (GPT-4-1106 vs Mixtral-8x7B)"
ROUTELLM_COST_NOTE = (
    "price x tokens: LiteLLM cost-map list prices (gpt-4-1106-preview $10/$30 per Mtok in/out, "
    "Mixtral-8x7B $0.6/$0.6 via Together AI), prompt tokens = characters/4, output tokens = "
    "the model's mean response length/4 where the set has responses (GSM8K, MT-Bench), 1 for MMLU"
)


def load_gsm8k(root: Path) -> RoutingSet:
    """RouteLLM's GSM8K: 1,319 test problems minus the contaminated ones, both models' correctness."""
    raw = read_gsm8k(root)
    rows, models = raw.rows, raw.models
    texts = [r["prompt"] for r in rows]
    out = {m: float(np.mean([_tokens(r[f"{m}_response"] or "") for r in rows])) for m in models}
    return RoutingSet(
        name="gsm8k", title="RouteLLM GSM8K", texts=texts, heads={"label": ["gsm8k"] * len(rows)},
        models=models, outcomes=np.array([[r[m] for m in models] for r in rows]),
        cost=_price_cost(texts, models, ROUTELLM_PRICES, out), real_cost=False, groups=texts,
        source=ROUTELLM_SOURCE + ", gsm8k/gsm8k_responses.csv", cost_note=ROUTELLM_COST_NOTE,
        strong=GPT4, weak=MIXTRAL,
        notes=["GSM8K carries no label of its own: the label set has one label, so the factored router "
               "sees the same expected accuracies for every prompt and can only route all-or-nothing."],
    )


def load_mmlu(root: Path) -> RoutingSet:
    """RouteLLM's MMLU: 57 subject CSVs (14,042 rows) minus the contaminated prompts; label = subject."""
    raw = read_mmlu(root)
    rows, models = raw.rows, raw.models
    texts = [r["prompt"] for r in rows]
    return RoutingSet(
        name="mmlu", title="RouteLLM MMLU", texts=texts, heads={"label": [r["subject"] for r in rows]},
        models=models, outcomes=np.array([[r[m] for m in models] for r in rows]),
        cost=_price_cost(texts, models, ROUTELLM_PRICES, dict.fromkeys(models, 1.0)),
        real_cost=False, groups=texts, source=ROUTELLM_SOURCE + ", mmlu/responses/mmlu_*.csv",
        cost_note=ROUTELLM_COST_NOTE, strong=GPT4, weak=MIXTRAL,
    )


def load_mt_bench(root: Path) -> RoutingSet:
    """RouteLLM's MT-Bench: 80 questions minus those with a contaminated turn; quality = the
    GPT-4 judge's score (1-10) averaged over both turns; routing sees the first turn only."""
    raw, judgements = read_mt_bench(root)
    questions = raw.rows
    scores: dict[tuple[int, str], list[float]] = {}
    answer_chars: dict[str, list[float]] = {}
    for j in judgements:
        scores.setdefault((j["question_id"], j["model"]), []).append(j["score"])
        if j["judge"][1].endswith("multi-turn"):  # holds both turns' questions and answers
            answer_chars.setdefault(j["model"], []).append(len(j["user_prompt"]))
    models = raw.models
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
    label = task_name joined from query_data by query text (the first listed, where two are)."""
    raw = read_llmrouter(root)
    llms = json.loads(raw_file(root / "llmrouter/llm_candidates/default_llm.json").read_text(encoding="utf-8"))
    rows, models = raw.rows, raw.models
    texts = [r["question"] for r in rows]
    prices = {m: (float(llms[m]["input_price"]), float(llms[m]["output_price"])) for m in models}
    return RoutingSet(
        name="llmrouter", title="LLMRouter (dcrouter split)", texts=texts,
        heads={"label": [(r["task_names"] or ["unknown"])[0] for r in rows]}, models=models,
        outcomes=np.array([[r["scores"][m] for m in models] for r in rows]),
        cost=_price_cost(texts, models, prices, dict.fromkeys(models, LLMROUTER_OUTPUT_TOKENS)),
        real_cost=False, groups=texts, test_mask=np.array([r["split"] == "test" for r in rows]),
        source="ulab-uiuc/LLMRouter @ 4e7a7969 data/dcrouter_preprocessed/{train,test}.json, "
        "data/example_data/query_data (task_name), llm_candidates/default_llm.json (prices)",
        cost_note="price x tokens: default_llm.json $/Mtok, prompt tokens = characters/4, "
        f"output tokens = {LLMROUTER_OUTPUT_TOKENS} for every model (the set records no response lengths)",
    )


def _prompt_text(raw: str) -> str:
    try:
        parts = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return raw
    return "\n\n".join(str(p) for p in parts) if isinstance(parts, list) else str(parts)


def load_routerbench(root: Path) -> RoutingSet:
    """RouterBench zero-shot rows for MBPP, ARC-Challenge and Winogrande (RouterDC's copy;
    its train and test files pooled), 11 models' correctness and real per-prompt cost."""
    raw = read_routerbench(root)
    models = raw.models
    rows = [r for r in raw.rows if all(r[m] is not None for m in models)]  # ARC rows missing some outcome
    texts = [_prompt_text(r["prompt"]) for r in rows]
    return RoutingSet(
        name="routerbench", title="RouterBench subset (MBPP, ARC, Winogrande)", texts=texts,
        heads={"label": [r["eval_name"] for r in rows]}, models=models,
        outcomes=np.array([[r[m] for m in models] for r in rows]),
        cost=np.array([[float(r[f"{m}|total_cost"]) for m in models] for r in rows]), real_cost=True,
        groups=texts, source="shuhao02/RouterDC @ 0e63989c datasets/routerbench_zs/{mbpp,arc_challenge,winograde}_"
        "{train,test}.csv (RouterBench zero-shot rows)",
        cost_note="real per-prompt `|total_cost`; decisions use the model's mean train-fold cost for the label",
        notes=[f"dropped {len(raw.rows) - len(rows)} ARC-Challenge rows with a missing outcome for some model"],
    )


def load_swebench_bash_only(root: Path, labels_path: Path = SWEBENCH_LABELS) -> RoutingSet:
    """SWE-bench Verified, board `bash-only`: every model whose per-instance list is the listed
    run (training.outcomes.read_swebench); labels = production route key and difficulty from
    data/labels/swebench.csv; real per-instance cost; groups = repository."""
    swe = read_swebench(root, labels_path)
    per_model, labels = {res["name"]: res["per_instance_details"] for res in swe.runs}, swe.labels
    rows = [r for r in load_swebench(root) if r.row_id in labels and all(r.row_id in d for d in per_model.values())]
    models = sorted(per_model)
    return RoutingSet(
        name="swebench", title="SWE-bench Verified, bash-only board", texts=[r.text for r in rows],
        heads={"route_key": [labels[r.row_id][0] for r in rows], "difficulty": [labels[r.row_id][1] for r in rows]},
        models=models,
        outcomes=np.array([[per_model[m][r.row_id]["resolved"] for m in models] for r in rows]),
        cost=np.array([[per_model[m][r.row_id]["cost"] for m in models] for r in rows]),
        real_cost=True, groups=[str(r.meta.get("repo")) for r in rows],
        source="SWE-bench/swe-bench.github.io @ f1176b6 data/leaderboards.json (board bash-only, "
        "per_instance_details); task texts via training.sources.load_swebench; labels data/labels/swebench.csv",
        cost_note="real per-instance agent cost ($); decisions use the model's mean train-fold cost per cell",
        frontier_model=FRONTIER_CODING_STAND_IN,
        frontier_note="code mode -> route `coding` -> anthropic/claude-sonnet-4.6, stood in for "
        f"by {FRONTIER_CODING_STAND_IN}, its closest relative on the board",
        notes=[f"excluded {name}: its per-instance list resolves {k}/{n} ({100 * k / n:.1f}%) but the board lists "
               f"{listed}%" for name, k, n, listed in swe.mismatched]
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
