"""`autotier accuracy eval` end to end: the shipped suite through LiteLLM against the real
mock upstream scripted to answer some cases right and some wrong; graded outcomes, the
cost report, resumption after a kill, and the model's cells moving in a rebuilt table."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from router.accuracy import load_accuracy_table as load_table
from router.catalog import load_catalog
from tests.training.conftest import HAVE_DATA
from training.evalsuite.cases import load_suite
from training.evalsuite.runner import read_outcomes

REPO = Path(__file__).resolve().parents[2]
MODEL = "x-ai/grok-4"  # known only from a prior: its own outcomes move it visibly
KEYS = ("refactoring/code_cleanup", "investigation/codebase_understanding")


def _cases():
    return [c for c in load_suite() if c.route_key in KEYS]


def _script(mock, right: set[str], latency_ms: float = 0.0) -> None:
    answers = [{"match": c.prompt, "text": c.reference if c.id in right else c.wrong} for c in _cases()]
    mock.patch(**{MODEL: {"answers": answers, "latency_ms": latency_ms}})


def _eval(mock, out: Path, *extra: str) -> list[str]:
    command = [sys.executable, "-m", "router.cli", "accuracy", "eval", "--model", MODEL, "--out", str(out),
               "--mock-upstream", mock.url, "--no-progress", *[a for k in KEYS for a in ("--route-key", k)], *extra]
    return command


def test_eval_grades_reports_cost_resumes_after_a_kill_and_moves_the_cells(mock_upstream, tmp_path) -> None:
    cases = _cases()
    assert len(cases) >= 20
    right = {c.id for i, c in enumerate(cases) if i % 3 != 0}  # two thirds answered right
    out = tmp_path / "own_suite" / "grok.jsonl"

    # A slow first run, killed once a few outcomes are on disk.
    _script(mock_upstream, right, latency_ms=400)
    proc = subprocess.Popen(_eval(mock_upstream, out, "--concurrency", "1"), cwd=REPO, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 90
    while len(read_outcomes(out)) < 3 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = read_outcomes(out)
    assert 3 <= len(before) < len(cases), proc.stdout.read() if proc.stdout else ""

    # The rerun asks only what is missing, and finishes.
    _script(mock_upstream, right)
    mock_upstream.http.delete(mock_upstream.url + "/_mock/stats")
    done = subprocess.run(_eval(mock_upstream, out), cwd=REPO, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    assert mock_upstream.stats()["total_requests"] == len(cases) - len(before)
    rows = read_outcomes(out)
    assert sorted(r["case"] for r in rows) == sorted(c.id for c in cases)  # each case once
    assert {r["case"] for r in rows if r["passed"]} == right
    assert all(r["model"] == MODEL and r["case_hash"] and r["suite_hash"] for r in rows)

    # The cost report: catalog prices of the tokens the mock reported, for this run's cases.
    model = load_catalog(REPO / "data" / "catalog.yaml")[MODEL]
    now = [r for r in rows if r["case"] not in {b["case"] for b in before}]
    assert all(r["cost_usd"] == pytest.approx(model.cost_usd(r["tokens_in"], r["tokens_out"])) for r in now)
    assert f"cost ${sum(r['cost_usd'] for r in now):.4f}" in done.stdout
    assert f"passed {len(right)}/{len(cases)}" in done.stdout

    # A third run has nothing left to ask.
    mock_upstream.http.delete(mock_upstream.url + "/_mock/stats")
    again = subprocess.run(_eval(mock_upstream, out), cwd=REPO, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and mock_upstream.stats()["total_requests"] == 0
    if not HAVE_DATA:
        pytest.skip("rebuilding the production table needs ../shared/data")
    _rebuilt_cells_move(out.parent, tmp_path, rows)


def _rebuilt_cells_move(own_dir: Path, tmp_path: Path, rows: list[dict]) -> None:
    from training.accuracy_tables import main

    base = load_table(REPO / "data" / "accuracy" / "production.json").models[MODEL]
    # Outcomes graded against the mock never count as evidence...
    assert main(["build", "--out", str(tmp_path / "mock"), "--own-suite", str(own_dir)]) == 0
    assert load_table(tmp_path / "mock" / "production.json").models[MODEL].cells == base.cells
    # ...so the same grades are relabelled as if a provider had answered, to see them fold in.
    for path in own_dir.glob("*.jsonl"):
        path.write_text("".join(json.dumps({**r, "litellm_model": "openrouter/x-ai/grok-4"}) + "\n"
                                for r in read_outcomes(path)), encoding="utf-8")
    assert main(["build", "--out", str(tmp_path / "acc"), "--own-suite", str(own_dir)]) == 0
    entry = load_table(tmp_path / "acc" / "production.json").models[MODEL]
    assert entry.evidence == "measured" and entry.note.startswith("measured (own suite)")
    suite = entry.own_evidence["own_suite"]
    assert sum(v["n"] for v in suite.values()) == len(rows)
    moved = [entry.cells[c].accuracy - base.cells[c].accuracy for c in base.cells]
    # Two thirds right is below what the prior expected of this model on these easy cells.
    expected = sum(v["expected_before"] * v["n"] for v in suite.values()) / len(rows)
    observed = sum(r["passed"] for r in rows) / len(rows)
    assert all(m < 0 for m in moved) if observed < expected else all(m > 0 for m in moved)
    others = load_table(tmp_path / "acc" / "production.json").models["deepseek/deepseek-v3.2"]
    assert others.cells == load_table(REPO / "data" / "accuracy" / "production.json").models[
        "deepseek/deepseek-v3.2"].cells
    json.dumps(entry.own_evidence)  # serialisable as written
    assert all(r["litellm_model"].startswith("mock:") for r in rows)  # what the run itself wrote


def test_a_failed_call_is_reported_and_retried_on_the_next_run(mock_upstream, tmp_path) -> None:
    out = tmp_path / "grok.jsonl"
    _script(mock_upstream, set())
    mock_upstream.patch(**{MODEL: {"fail_next": 1, "fail_next_status": 400}})
    first = subprocess.run(_eval(mock_upstream, out, "--limit", "3", "--concurrency", "1"), cwd=REPO,
                           capture_output=True, text=True, timeout=120)
    assert first.returncode == 1 and "1 case(s) failed to run" in first.stderr
    assert len(read_outcomes(out)) == 2
    again = subprocess.run(_eval(mock_upstream, out, "--limit", "3"), cwd=REPO, capture_output=True, text=True,
                           timeout=120)
    assert again.returncode == 0, again.stdout + again.stderr
    assert len(read_outcomes(out)) == 3 and not any(r["passed"] for r in read_outcomes(out))
