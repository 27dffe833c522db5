"""`autotier classify --input IN.jsonl --output OUT.jsonl` round trip."""

import json

import pytest

import classifier.model
from classifier.artefact import DEFAULT_ARTEFACT
from classifier.cli import main

ROWS = [
    {"id": 1, "prompt": "fix the crash in parser", "team": "a"},
    {"id": 2, "messages": [{"role": "user", "content": "what is a queue in python"}], "mode": "ask"},
    {"id": 3, "input": "design a scalable cache service", "instructions": "be brief"},
    {
        "id": 4,
        "system": "agent",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "add docstrings to router"}]}],
    },
]
ADDED = {"task_type", "subtype", "route_key", "difficulty", "confidence", "route_probs", "difficulty_probs"}


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + "\n")


def test_round_trip_keeps_fields_and_adds_predictions(tmp_path, monkeypatch, toy_classifier):
    monkeypatch.setattr(classifier.model, "load", lambda location=None: toy_classifier)
    _write(tmp_path / "in.jsonl", ROWS)
    assert main(["--input", str(tmp_path / "in.jsonl"), "--output", str(tmp_path / "out.jsonl")]) == 0
    out = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [o["id"] for o in out] == [1, 2, 3, 4]
    for row, res in zip(ROWS, out, strict=True):
        assert {k: res[k] for k in row} == row
        assert set(res) >= ADDED
        assert res["route_key"] == f"{res['task_type']}/{res['subtype']}"
        assert res["confidence"] == pytest.approx(res["route_probs"][res["route_key"]])
        direct = toy_classifier.predict({k: v for k, v in row.items() if k not in ("id", "team")})
        assert res["route_key"] == direct.route_key


def test_bad_lines(tmp_path, monkeypatch, toy_classifier, capsys):
    monkeypatch.setattr(classifier.model, "load", lambda location=None: toy_classifier)
    (tmp_path / "bad.jsonl").write_text('{"prompt": "x"}\n{nope\n')
    assert main(["--input", str(tmp_path / "bad.jsonl"), "--output", str(tmp_path / "o")]) == 2
    assert "bad.jsonl:2: not valid JSON" in capsys.readouterr().err
    _write(tmp_path / "empty_turn.jsonl", [{"prompt": "fix it"}, {"messages": [{"role": "system", "content": "x"}]}])
    assert main(["--input", str(tmp_path / "empty_turn.jsonl"), "--output", str(tmp_path / "o")]) == 0
    out = [json.loads(line) for line in (tmp_path / "o").read_text().splitlines()]
    assert "route_key" in out[0] and out[1]["error"].startswith("request_invalid")


@pytest.mark.skipif(
    not (DEFAULT_ARTEFACT / "manifest.json").is_file(),
    reason="no trained default artefact (run autotier train --export)",
)
def test_round_trip_with_shipped_artefact(tmp_path):
    _write(tmp_path / "in.jsonl", ROWS)
    assert main(["--input", str(tmp_path / "in.jsonl"), "--output", str(tmp_path / "out.jsonl")]) == 0
    out = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert len(out) == 4 and all(set(o) >= ADDED for o in out)
