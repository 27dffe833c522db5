"""The loop from the operator's own traffic back to routing, end to end on a gateway
against the mock upstream: efficient-tier traffic, thumbs-down feedback on the model it
chose, `accuracy build --feedback`, the efficient tier's choice moving off that model, and
`autotier shadow` reporting the change before anything is promoted."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.gateway.conftest import start_gateway
from tests.support.config_copy import copy_config
from tests.training.conftest import HAVE_DATA

REPO = Path(__file__).resolve().parents[2]
PROMPT = "Add a one-line docstring to this function: def add{i}(a, b): return a + b"


def _route(data_dir: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "router.cli", "--data-dir", str(data_dir), "route", "--model", "kilo-auto/efficient",
         "--mode", "code", "--prompt", PROMPT.format(i=0), "--compact"],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=True)
    return json.loads(out.stdout)


def _accuracy(decision: dict, model: str) -> float:
    return next(c["expected_accuracy"] for c in decision["details"]["candidates"] if c["model"] == model)


@pytest.mark.skipif(not HAVE_DATA, reason="rebuilding the accuracy table needs ../shared/data")
def test_bad_feedback_moves_the_efficient_tier_off_a_model_and_shadow_shows_it(mock_upstream, tmp_path):
    with start_gateway(mock_upstream, tmp_path / "gw", "--capture-rate", "1") as gw:
        keys = [gw.create_account(50.0) for _ in range(3)]  # feedback counts from 3 accounts on (the default)
        served = []
        for i in range(24):
            key = keys[i % 3]
            r = gw.post("/v1/chat/completions",
                        {"model": "kilo-auto/efficient", "messages": [{"role": "user", "content": PROMPT.format(i=i)}]},
                        headers={"authorization": f"Bearer {key}", "x-kilocode-mode": "code",
                                 "x-kilocode-taskid": f"loop-{i}"})
            assert r.status_code == 200, r.text
            served.append((key, r.headers["x-autotier-model"], r.headers["x-autotier-response-id"]))
        bad, count = Counter(m for _, m, _ in served).most_common(1)[0]
        assert count >= 20
        for key, model, response_id in served:
            if model == bad:
                r = gw.post("/v1/feedback", {"response_id": response_id, "rating": "down", "solved": False},
                            headers={"authorization": f"Bearer {key}"})
                assert r.status_code == 200, r.text

    new = copy_config(tmp_path / "new")
    build = subprocess.run([sys.executable, "-m", "router.cli", "accuracy", "build", "--out", str(new / "accuracy"),
                            "--feedback", str(gw.db)], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr
    assert f"{bad}: ability" in build.stdout and "feedback low" in build.stdout

    before, after = _route(gw.data_dir), _route(new)
    assert before["model"] == bad
    assert after["model"] != bad
    assert _accuracy(after, bad) < _accuracy(before, bad)

    report = tmp_path / "shadow.json"
    shadow = subprocess.run(
        [sys.executable, "-m", "router.cli", "shadow", "--candidate", str(REPO / "classifier" / "artefacts" / "default"),
         "--tables", str(new / "accuracy" / "production.json"), "--db", str(gw.db), "--no-track",
         "--json", str(report)], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert shadow.returncode == 0, shadow.stdout + shadow.stderr
    efficient = json.loads(report.read_text())["per_tier"]["efficient"]
    assert efficient["n"] == 24 and efficient["changed"] >= count
    assert any(m["from"] == bad and m["to"] != bad for m in efficient["moves"])
