"""Loaders read the original layout of each public data set (skipped without the data)."""

import csv
from pathlib import Path

import pytest

from training.sources import LOADERS, SourceError, iter_source, load_source, request_of

LABELS = Path(__file__).resolve().parents[2] / "data" / "labels"

# source -> (minimum rows, one known row id)
EXPECTED = {
    "arena_hard": (500, "328c149ed45a41c0b9d6f14659e63599"),
    "mt_bench": (80, "81"),
    "codechat": (1000, "4ac1eaab8a7d3d0a73238819e65dfb82:2"),
    "codealpaca": (2000, "0"),
    "editeval": (194, "EditEval/0"),
    "swebench": (500, "astropy__astropy-14995"),
    "swebench_lite": (300, "django__django-15202"),
    "llmrouter": (6000, "test:0"),
    "debugbench": (2900, "cpp_== and = confusion:keep-multiplying-found-values-by-two"),
    "math500": (500, "test/precalculus/807.json"),
}


@pytest.mark.parametrize("source", sorted(LOADERS))
def test_loader_reads_real_files(source, data_root):
    rows = load_source(source, data_root)
    minimum, known = EXPECTED[source]
    assert len(rows) >= minimum
    assert known in rows, f"{source}: row {known} missing"
    for row in list(rows.values())[:50]:
        assert row.source == source and row.text.strip()


def test_texts_follow_format_md(data_root):
    edit = load_source("editeval", data_root)["EditEval/0"]
    assert edit.text.startswith("Change the function") and "def has_close_elements" in edit.text
    mt = load_source("mt_bench", data_root)["81"]
    assert mt.text.startswith("Compose an engaging travel blog post")
    math = load_source("math500", data_root)["test/precalculus/807.json"]
    assert math.meta["level"] == 2
    swe = load_source("swebench", data_root)
    assert swe["astropy__astropy-14995"].meta["text_kind"] == "statement"
    assert {r.meta["text_kind"] for r in swe.values()} == {"statement", "title"}


def test_codechat_follow_up_carries_the_first_prompt(data_root):
    rows = load_source("codechat", data_root)
    second = rows["4ac1eaab8a7d3d0a73238819e65dfb82:2"]
    first = rows["4ac1eaab8a7d3d0a73238819e65dfb82:1"]
    req = request_of(second)
    assert [m["content"] for m in req["messages"]] == [first.text, second.text]
    assert request_of(first) == {"prompt": first.text}


@pytest.mark.parametrize("path", sorted(LABELS.glob("*.csv")), ids=lambda p: p.name)
def test_every_label_row_id_exists_in_its_source(path, data_root):
    if path.stem not in LOADERS:
        pytest.fail(f"{path.name}: no loader for source {path.stem!r}")
    rows = load_source(path.stem, data_root)
    with path.open(encoding="utf-8", newline="") as fh:
        missing = [r["row_id"] for r in csv.DictReader(fh) if r["row_id"] not in rows]
    assert not missing[:10], f"{path.name}: {len(missing)} unknown row ids"


def test_missing_data_root_names_the_file(tmp_path):
    with pytest.raises(SourceError, match="question.jsonl: missing"):
        list(iter_source("arena_hard", tmp_path))
