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
    for condition in report["conditions"].values():
        served = {step["arm"] for step in condition["steps"] if step["ok"] > 0}
        assert set(arms) <= served, f"an arm answered nothing: {sorted(set(arms) - served)}"
        for step in condition["steps"]:
            assert {"rate", "latency_ms", "error_rate", "cpu_ms_per_request", "rss_mb"} <= set(step)
