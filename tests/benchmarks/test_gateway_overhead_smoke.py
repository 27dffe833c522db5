"""Smoke run of benchmarks/gateway_overhead.py: real processes, tiny rates, and only the
shape of the JSON it writes is checked (timings on a shared machine mean nothing here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "gateway_overhead.py"
ARM_KEYS = {"added_p50_ms", "added_p99_ms", "max_rate_p99_10ms", "max_rate_p99_50ms", "error_rate",
            "cpu_ms_per_request", "peak_rss_mb"}


def _litellm_proxy_available() -> bool:
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import _load_servers

        return _load_servers.default_litellm_bin() is not None
    finally:
        sys.path.remove(str(SCRIPT.parent))


@pytest.mark.slow
def test_quick_run_writes_every_arm_and_ratio(tmp_path: Path) -> None:
    arms = ["direct", "autotier_rule", "autotier_efficient"]
    if _litellm_proxy_available():
        arms.append("litellm_proxy")
    out = tmp_path / "overhead.json"
    command = [sys.executable, str(SCRIPT), "--quick", "--arms", ",".join(arms), "--rates", "2,4",
               "--mock-alone-rates", "20", "--duration", "1", "--out", str(out)]
    proc = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        output, _ = proc.communicate(timeout=400)
    finally:
        if proc.poll() is None:  # SIGTERM first: the script then stops the servers it started
            proc.terminate()
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
    assert proc.returncode == 0, output[-4000:]

    report = json.loads(out.read_text())
    assert set(report["arms"]) == set(arms)
    for arm in arms:
        assert set(report["arms"][arm]) >= ARM_KEYS, arm
    assert {"added_p99_vs_litellm", "max_rate_vs_litellm"} <= set(report["ratios"])
    assert report["machine"]["cpus"] >= 1
    assert {"stream", "nonstream"} <= set(report["mock_alone"])
    assert set(report["by_condition"]) == {"mock0ms_stream", "mock0ms_nonstream"}
    assert set(report["ratios_by_condition"]) == {"mock0ms_stream", "mock0ms_nonstream"}
    again = tmp_path / "again.json"
    subprocess.run([sys.executable, str(SCRIPT), "--resummarise", str(out), "--out", str(again)],
                   cwd=REPO, check=True, capture_output=True, timeout=60)
    assert json.loads(again.read_text()) == report  # the summaries come from the raw steps alone
    for condition in report["conditions"].values():
        served = {step["arm"] for step in condition["steps"] if step["ok"] > 0}
        assert set(arms) <= served, f"an arm answered nothing: {sorted(set(arms) - served)}"
        for step in condition["steps"]:
            assert {"rate", "latency_ms", "error_rate", "cpu_ms_per_request", "rss_mb"} <= set(step)


def _step(arm: str, rate: float, added_p99: float | None, error_rate: float = 0.0) -> dict:
    return {"arm": arm, "rate": rate, "added_p99_ms": added_p99, "error_rate": error_rate}


def test_shared_load_ratios_compare_only_rates_both_arms_held() -> None:
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import gateway_overhead
    finally:
        sys.path.remove(str(SCRIPT.parent))
    steps = [
        _step("autotier_rule", 20, 4.0), _step("litellm_proxy", 20, 20.0),
        _step("autotier_rule", 40, 6.0), _step("litellm_proxy", 40, 10.0),
        _step("autotier_rule", 60, 3.0), _step("litellm_proxy", 60, 900.0),  # LiteLLM did not hold
        _step("autotier_rule", 80, 3.0, error_rate=0.05), _step("litellm_proxy", 80, 30.0),  # errors
        _step("autotier_rule", 100, 3.0),  # LiteLLM left the ladder
    ]
    shared = gateway_overhead.shared_load_ratios(steps)
    assert shared == {"added_p99_ratio_by_rate": {"20": 0.2, "40": 0.6}, "worst": 0.6}
