"""One reader per public outcome set feeds both the accuracy tables and the routing benchmark."""

from __future__ import annotations

import numpy as np
import pytest

from training.bench import sets
from training.outcomes import (
    ROUTELLM_MODELS,
    load_llmrouter,
    load_routellm,
    load_routerbench,
    load_swebench,
    read_gsm8k,
    read_llmrouter,
    read_mmlu,
    read_mt_bench,
    read_routerbench,
    read_swebench,
)
from training.sources import SourceError

from .conftest import needs_data


@pytest.mark.parametrize("reader", [read_gsm8k, read_mmlu, read_mt_bench, read_routerbench, read_llmrouter,
                                    read_swebench])
def test_missing_raw_file_names_it(reader, tmp_path):
    with pytest.raises(SourceError, match=": missing; fetch it from the origin listed in SOURCES.md"):
        reader(tmp_path)


@needs_data
def test_routellm_outcomes_and_routing_sets_hold_the_same_items(data_root):
    out = load_routellm(data_root)
    for name, cell_of in (("gsm8k", lambda c: c == "gsm8k"), ("mmlu", lambda c: c.startswith("mmlu/"))):
        rs = sets.LOADERS[name](data_root)
        assert rs.models == sorted(ROUTELLM_MODELS)
        for j, model in enumerate(rs.models):
            ys = [y for m, c, y in out.records if m == model and cell_of(c)]
            assert ys == rs.outcomes[:, j].tolist(), (name, model)
    assert [e.split(":")[0] for e in out.exclusions] == ["gsm8k rows", "mmlu rows", "mt_bench judged turns"]


@needs_data
def test_mt_bench_leaves_out_a_question_with_a_contaminated_turn_everywhere(data_root):
    questions, judgements = read_mt_bench(data_root)
    assert len(questions.rows) + questions.dropped == 80 and questions.dropped > 0
    rs = sets.load_mt_bench(data_root)
    assert rs.texts == [q["turns"][0] for q in questions.rows]
    kept = {q["question_id"] for q in questions.rows}
    judged = sum(1 for d in judgements if d["question_id"] in kept)
    assert load_routellm(data_root).counts["by_set"]["mt_bench"] == judged  # one record per judged turn


@needs_data
def test_llmrouter_ambiguous_texts_are_skipped_for_tables_and_labelled_first_listed_for_routing(data_root):
    raw = read_llmrouter(data_root)
    ambiguous = [r for r in raw.rows if len(r["task_names"]) != 1]
    assert ambiguous and all(len(r["task_names"]) == 2 for r in ambiguous)
    out = load_llmrouter(data_root)
    assert out.counts["queries"] == len(raw.rows) - len(ambiguous)
    rs = sets.load_llmrouter(data_root)
    assert len(rs) == len(raw.rows)
    labels = dict(zip(rs.texts, rs.heads["label"], strict=True))
    assert all(labels[r["question"]] == r["task_names"][0] for r in ambiguous)


@needs_data
def test_routerbench_rows_are_read_once_and_filtered_per_consumer(data_root):
    raw = read_routerbench(data_root)
    blank_rows = sum(1 for r in raw.rows if any(r[m] is None for m in raw.models))
    assert len(sets.load_routerbench(data_root)) == len(raw.rows) - blank_rows  # routing drops incomplete rows
    assert load_routerbench(data_root).counts["prompts"] == len({r["sample_id"] for r in raw.rows})


@needs_data
def test_swebench_exclusion_is_shared(data_root):
    swe = read_swebench(data_root)
    assert [name for name, *_ in swe.mismatched] == ["Claude 3.7 Sonnet (20250219)"]
    out = load_swebench(data_root)
    rs = sets.load_swebench_bash_only(data_root)
    assert rs.models == sorted(out.models) == sorted(r["name"] for r in swe.runs)
    assert rs.notes[0] == ("excluded Claude 3.7 Sonnet (20250219): its per-instance list resolves 51/500 (10.2%) "
                           "but the board lists 52.8%")
    j = rs.models.index("DeepSeek V3.2 Reasoner")
    assert np.mean(rs.outcomes[:, j]) == pytest.approx(0.600)
