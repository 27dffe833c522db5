"""Joining, validation, de-duplication and the validation split, on a small fake data root."""

import json

import pytest

from classifier.taxonomy import load_taxonomy
from training.dataset import CSV_HEADER, DatasetError, build_dataset

TAX = load_taxonomy()
KEYS = ["debugging/bug_fixing", "investigation/external_research", "refactoring/code_cleanup"]


@pytest.fixture
def fake(tmp_path):
    """A data root with 120 arena_hard prompts and a labels folder labelling all of them."""
    root = tmp_path / "data"
    (root / "arena_hard_v0.1").mkdir(parents=True)
    with (root / "arena_hard_v0.1" / "question.jsonl").open("w") as fh:
        for i in range(120):
            fh.write(json.dumps({"uid": f"u{i}", "prompt": f"prompt number {i} about topic {i % 7}"}) + "\n")
    labels = tmp_path / "labels"
    labels.mkdir()
    rows = [",".join(CSV_HEADER)]
    for i in range(120):
        method = "weak" if i % 10 == 0 else "hand"
        rows.append(f"arena_hard,u{i},{KEYS[i % 3]},{['low', 'medium', 'high'][i % 3]},{method},hand,")
    (labels / "arena_hard.csv").write_text("\n".join(rows) + "\n")
    return root, labels


def _synthetic(labels, n):
    with (labels / "synthetic.jsonl").open("w") as fh:
        for i in range(n):
            fh.write(
                json.dumps(
                    {
                        "id": f"s{i}",
                        "messages": [{"role": "user", "content": f"run job {i}"}],
                        "mode": "code",
                        "route_key": "agentic_execution/terminal_operations",
                        "difficulty": "low",
                        "label_method": "synthetic",
                    }
                )
                + "\n"
            )


def test_split_is_stratified_deterministic_and_hand_only(fake):
    root, labels = fake
    ds = build_dataset(TAX, labels, root)
    again = build_dataset(TAX, labels, root)
    assert [e.key for e in ds.val] == [e.key for e in again.val]
    assert ds.sha256 == again.sha256
    assert all(e.label_method == "hand" for e in ds.val)
    assert 0.2 <= len(ds.val) / len(ds.examples) <= 0.3
    per_key = {k: sum(e.route_key == k for e in ds.val) for k in KEYS}
    assert max(per_key.values()) - min(per_key.values()) <= 1
    assert ds.examples[0].request == {"prompt": "prompt number 0 about topic 0"}


def test_validation_membership_is_stable_when_rows_are_added(fake):
    root, labels = fake
    before = {e.key for e in build_dataset(TAX, labels, root).val}
    text = (labels / "arena_hard.csv").read_text().splitlines()
    (labels / "arena_hard.csv").write_text("\n".join(text[:100]) + "\n")
    after = {e.key for e in build_dataset(TAX, labels, root).val}
    assert len(before & after) >= 0.8 * len(after)


def test_synthetic_rows_train_only_and_capped(fake):
    root, labels = fake
    _synthetic(labels, 200)
    ds = build_dataset(TAX, labels, root)
    syn = [e for e in ds.train if e.label_method == "synthetic"]
    assert syn and not [e for e in ds.val if e.label_method == "synthetic"]
    assert len(syn) <= 0.25 * len(ds.train) + 1e-9
    assert ds.stats["synthetic_dropped_by_cap"] > 0
    assert ds.train[-1].request["mode"] == "code"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("arena_hard,u1,debugging/nope,low,hand,hand,", "route_key 'debugging/nope' is not in taxonomy"),
        ("arena_hard,u1,debugging/bug_fixing,easy,hand,hand,", "difficulty 'easy' must be one of"),
        ("arena_hard,zzz,debugging/bug_fixing,low,hand,hand,", "row_id 'zzz' not found"),
        ("arena_hard,u1,debugging/bug_fixing,low,guess,hand,", "label_method must be hand or weak"),
        ("arena_hard,u1,debugging/bug_fixing,low,hand,vibes,", "difficulty_method 'vibes'"),
        ("mt_bench,u1,debugging/bug_fixing,low,hand,hand,", "differs from file"),
        ("arena_hard,u1,debugging/bug_fixing", "expected 7 columns"),
    ],
)
def test_bad_rows_name_file_and_line(fake, line, message):
    root, labels = fake
    path = labels / "arena_hard.csv"
    path.write_text(path.read_text() + line + "\n")
    with pytest.raises(DatasetError) as err:
        build_dataset(TAX, labels, root)
    assert "arena_hard.csv:122:" in str(err.value) and message in str(err.value)
    lenient = build_dataset(TAX, labels, root, strict=False)
    assert len(lenient.examples) == 120 and any(message in w for w in lenient.warnings)


def test_unknown_label_file_and_bad_synthetic_line(fake):
    root, labels = fake
    (labels / "mystery.csv").write_text(",".join(CSV_HEADER) + "\n")
    (labels / "synthetic.jsonl").write_text('{"id": "s1", "messages": []}\n{oops\n')
    with pytest.raises(DatasetError) as err:
        build_dataset(TAX, labels, root)
    text = str(err.value)
    assert "mystery.csv:1: unknown source 'mystery'" in text
    assert "synthetic.jsonl:1:" in text and "synthetic.jsonl:2: not valid JSON" in text


def test_duplicates_keep_hand_labels_first(fake):
    root, labels = fake
    path = labels / "arena_hard.csv"
    # the same row again (weak) and a second row with the same text
    with (root / "arena_hard_v0.1" / "question.jsonl").open("a") as fh:
        fh.write(json.dumps({"uid": "dup", "prompt": "Prompt number 1 about topic 1"}) + "\n")
    path.write_text(
        path.read_text() + "arena_hard,u1,refactoring/code_cleanup,low,weak,hand,\n"
        "arena_hard,dup,refactoring/code_cleanup,low,hand,hand,\n"
    )
    ds = build_dataset(TAX, labels, root)
    kept = [e for e in ds.examples if e.key in ("arena_hard:u1", "arena_hard:dup")]
    assert [(e.key, e.label_method) for e in kept] == [("arena_hard:u1", "hand")]
    assert ds.stats["duplicates_removed"] == 2
    assert any("duplicate of arena_hard.csv:3" in w for w in ds.warnings)


def test_subset_keeps_every_class(fake):
    root, labels = fake
    ds = build_dataset(TAX, labels, root, subset=30)
    assert 25 <= len(ds.examples) <= 35
    assert {e.route_key for e in ds.examples} == set(KEYS)


def test_bare_views_replace_part_of_the_synthetic_sessions(fake):
    from training.dataset import with_bare_views

    root, labels = fake
    _synthetic(labels, 30)
    ds = build_dataset(TAX, labels, root)
    views = with_bare_views(ds.train, 0.5)
    syn = [v for v in views if v.label_method == "synthetic"]
    bare = [v for v in syn if "prompt" in v.request]
    assert 0 < len(bare) < len(syn)
    assert bare[0].request["prompt"].startswith("run job")
    assert [v.key for v in views] == [e.key for e in ds.train]
    assert all("messages" in e.request for e in ds.train if e.label_method == "synthetic")
    assert with_bare_views(ds.train, 0.5) == views
