"""`autotier train --from-ledger`: captures -> review file -> reviewed rows in the training data."""

from __future__ import annotations

import json
import time

import pytest

from classifier.taxonomy import load_taxonomy
from router.gateway.accounts import Ledger
from training.dataset import DatasetError, build_dataset
from training.from_ledger import REVIEW_FILE, capture_request, read_captures, sync_review

CAPTURE_SQL = ("INSERT INTO captures (time, expires, usage_id, account_id, api, mode, tier, model, route_key,"
               " difficulty, text, context, n_tool_results, prompt_tokens) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
               " ?, ?)")


def add_captures(db, rows):
    """rows: (text, context, mode, route_key, difficulty); route key None = captured outside
    the efficient tier (no stored prediction)."""
    ledger = Ledger(db)
    now = time.time()

    def write(tx):
        for text, context, mode, route_key, difficulty in rows:
            tier = "efficient" if route_key else "balanced"
            tx.insert(CAPTURE_SQL, (now, now + 86_400, None, 1, "chat", mode, tier, "openai/gpt-5.4", route_key,
                                    difficulty, text, context, 2, 1200))

    ledger.run(write)
    ledger.close()


FIRST = [
    ("The login handler throws KeyError: 'user' after the upgrade, fix it", None, "debug",
     "debugging/bug_fixing", "medium"),
    ("Write a function that parses ISO dates into datetime objects", None, "code",
     "implementation/code_generation", "low"),
    ("How should we split the billing service into modules?", "We are planning the Q3 architecture", "plan",
     None, None),
]


def read_lines(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture
def ledger(tmp_path):
    db = tmp_path / "autotier.db"
    add_captures(db, FIRST)
    return db


def test_review_file_gets_each_capture_with_its_prediction(ledger, tmp_path):
    review = tmp_path / "labels" / REVIEW_FILE
    summary = sync_review(read_captures(str(ledger)), review)
    assert (summary.added, summary.total, summary.unreviewed) == (3, 3, 3)
    lines = read_lines(review)
    assert [x["id"] for x in lines] == ["ledger:1", "ledger:2", "ledger:3"]
    first = lines[0]
    assert first["predicted_route_key"] == first["route_key"] == "debugging/bug_fixing"
    assert first["predicted_difficulty"] == first["difficulty"] == "medium"
    assert first["reviewed"] is False and first["mode"] == "debug" and first["n_tool_results"] == 2
    assert first["captured"].endswith("+00:00")
    # No stored prediction: the shipped classifier fills it in.
    taxonomy = load_taxonomy()
    assert lines[2]["predicted_route_key"] in taxonomy.route_keys
    assert lines[2]["difficulty"] in taxonomy.difficulty_names
    assert lines[2]["context"] == "We are planning the Q3 architecture"
    assert "await review" in summary.describe()


def test_resync_keeps_edits_appends_new_captures_and_reviewed_rows_reach_training(ledger, tmp_path):
    labels = tmp_path / "labels"
    review = labels / REVIEW_FILE
    sync_review(read_captures(str(ledger)), review)
    lines = read_lines(review)
    lines[0]["reviewed"] = True  # accepted as predicted
    lines[1].update(reviewed=True, route_key="implementation/feature_development", difficulty="medium")
    review.write_text("".join(json.dumps(x) + "\n" for x in lines))
    edited = review.read_text()

    add_captures(ledger, [("Refactor the payment module to remove the global state", None, "code",
                           "refactoring/structural", "high")])
    summary = sync_review(read_captures(str(ledger)), review)
    assert (summary.added, summary.total, summary.unreviewed) == (1, 4, 2)
    assert review.read_text().startswith(edited)  # existing lines untouched
    assert [x["id"] for x in read_lines(review)][-1] == "ledger:4"
    assert sync_review(read_captures(str(ledger)), review).added == 0  # idempotent

    ds = build_dataset(load_taxonomy(), labels)  # no CSVs here: only the reviewed ledger rows
    rows = {e.key: e for e in ds.examples}
    assert set(rows) == {"ledger:1", "ledger:2"}
    assert (rows["ledger:2"].route_key, rows["ledger:2"].difficulty) == ("implementation/feature_development",
                                                                         "medium")
    assert rows["ledger:1"].route_key == "debugging/bug_fixing"
    assert all(e.split == "train" and e.label_method == "hand" for e in ds.examples)  # never validation
    assert rows["ledger:1"].request == capture_request(lines[0]["text"], None, "debug")
    assert ds.stats["ledger_rows"] == 2 and ds.stats["by_source"] == {"ledger/train": 2}

    from training.shaped_data import training_views

    views = training_views(ds.train)  # wrapped in a captured CLI shape like every real row
    assert len(views) == 4 and any("#" in e.row_id for e in views)


def test_ledger_rows_are_never_validation_rows():
    from training.dataset import Example, assign_splits

    rows = [Example("ledger", str(i), {"prompt": f"task {i}"}, "debugging/bug_fixing", "low", "hand", "hand", "x")
            for i in range(12)]
    assign_splits(rows)
    assert {e.split for e in rows} == {"train"}


@pytest.mark.parametrize(
    ("bad_line", "expected"),
    [
        ('{"id": "ledger:9", "text": "x", "reviewed": "yes"}', "ledger_review.jsonl:3: field 'reviewed'"),
        ('{"id": "9", "text": "x", "reviewed": false}', "ledger_review.jsonl:3: field 'id'"),
        ('{"id": "ledger:9", "text": "x", "reviewed": true, "route_key": "nope", "difficulty": "low"}',
         "ledger_review.jsonl:3: field 'route_key': 'nope' is not in taxonomy.yaml"),
        ('{"id": "ledger:9", "text": "x", "reviewed": true, "route_key": "debugging/bug_fixing", '
         '"difficulty": "hard"}', "ledger_review.jsonl:3: field 'difficulty'"),
        ("{not json", "ledger_review.jsonl:3: not valid JSON"),
    ],
)
def test_a_bad_review_line_is_named_by_line_and_field(tmp_path, bad_line, expected):
    labels = tmp_path / "labels"
    labels.mkdir()
    good = {"id": "ledger:1", "text": "fix the bug", "reviewed": True, "route_key": "debugging/bug_fixing",
            "difficulty": "low"}
    (labels / REVIEW_FILE).write_text(json.dumps(good) + "\n\n" + bad_line + "\n")
    with pytest.raises(DatasetError, match=expected.replace("(", r"\(")) as err:
        build_dataset(load_taxonomy(), labels)
    assert len(err.value.errors) == 1
    lenient = build_dataset(load_taxonomy(), labels, strict=False)
    assert [e.key for e in lenient.examples] == ["ledger:1"]


def test_cli_review_only_updates_the_file_and_says_what_awaits_review(ledger, tmp_path, capsys):
    from training.cli import main

    review = tmp_path / "review.jsonl"
    assert main(["--from-ledger", str(ledger), "--review", str(review), "--review-only"]) == 0
    out = capsys.readouterr().out
    assert "3 new capture(s) appended" in out and "3 await review" in out and str(review) in out
    assert len(read_lines(review)) == 3


def test_cli_errors_are_clear(tmp_path, capsys):
    from training.cli import main

    assert main(["--from-ledger", str(tmp_path / "missing.db"), "--review-only"]) == 2
    assert "no ledger at" in capsys.readouterr().err
    review = tmp_path / "review.jsonl"
    review.write_text('{"id": "ledger:1"}\n')
    assert main(["--from-ledger", str(tmp_path / "missing.db"), "--review", str(review), "--review-only"]) == 2
    db = tmp_path / "autotier.db"
    add_captures(db, FIRST[:1])
    assert main(["--from-ledger", str(db), "--review", str(review), "--review-only"]) == 2
    err = capsys.readouterr().err
    assert "review.jsonl:1: field 'text'" in err and "nothing was written" in err
    assert review.read_text() == '{"id": "ledger:1"}\n'


@pytest.mark.slow
@pytest.mark.usefixtures("data_root")
def test_train_logs_the_ledger_rows_it_used(ledger, tmp_path, monkeypatch):
    from mlflow import MlflowClient

    from training.cli import main

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("AUTOTIER_CACHE_DIR", str(tmp_path / "cache"))
    review = tmp_path / "review.jsonl"
    assert main(["--from-ledger", str(ledger), "--review", str(review), "--review-only"]) == 0
    lines = read_lines(review)
    for x in lines:
        x["reviewed"] = True
    review.write_text("".join(json.dumps(x) + "\n" for x in lines))
    assert main(["--review", str(review), "--subset", "200", "--quiet", "--lenient", "--no-curve", "--folds", "2",
                 "--no-promote", "--output-dir", str(tmp_path / "run")]) == 0
    client = MlflowClient(uri)
    run = client.search_runs([client.get_experiment_by_name("autotier-classifier").experiment_id])[0]
    assert 0 <= int(run.data.params["n_ledger_rows"]) <= 3  # --subset samples the ledger rows too
