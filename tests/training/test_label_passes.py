"""The label passes: agreement between two passes and the settled labels written back."""

from __future__ import annotations

import csv

from training.label_passes import agreement, apply, read_pass, settled

HEAD = "source,row_id,route_key,difficulty,note\n"


def _write(path, text):
    path.write_text(text, encoding="utf-8")


def test_agreement_and_settling(tmp_path):
    passes, labels = tmp_path / "passes", tmp_path / "labels"
    passes.mkdir()
    labels.mkdir()
    _write(passes / "pass1.csv", HEAD + "s,1,implementation/feature_development,low,\ns,2,debugging/bug_fixing,low,\n"
           "s,3,investigation/external_research,,\n")
    _write(passes / "pass2.csv", HEAD + "s,1,implementation/code_generation,low,\ns,2,debugging/bug_fixing,medium,\n"
           "s,3,investigation/external_research,,\n")
    _write(passes / "pass3.csv", HEAD + "s,1,implementation/code_generation,low,\ns,2,debugging/bug_fixing,medium,\n")
    first, second = read_pass("pass1", passes), read_pass("pass2", passes)
    figures = agreement(first, second)["all"]
    assert figures == {"rows": 3, "task_type": 1.0, "route_key": 0.667, "difficulty": 0.5}
    assert settled(passes)[("s", "1")]["route_key"] == "implementation/code_generation"
    _write(labels / "s.csv", "source,row_id,route_key,difficulty,label_method,difficulty_method,note\r\n"
           "s,1,implementation/feature_development,low,hand,hand,\r\n"
           "s,2,debugging/bug_fixing,low,hand,swebench_time_bucket,\r\n"
           "s,3,investigation/external_research,low,hand,hand,\r\n")
    assert apply(labels, passes) == 1  # row 2's difficulty comes from its bucket, not a person
    rows = list(csv.DictReader((labels / "s.csv").open(encoding="utf-8", newline="")))
    assert [r["route_key"] for r in rows][0] == "implementation/code_generation"
    assert rows[1]["difficulty"] == "low"
    assert (labels / "s.csv").read_bytes().count(b"\r\n") == 4  # the file's own line ends kept
