"""The `autotier` console script as a user runs it (a real subprocess)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

AUTOTIER = shutil.which("autotier", path=str(Path(sys.executable).parent)) or "autotier"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([AUTOTIER, *args], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(("args", "tier", "model"), [
    (["--model", "kilo-auto/frontier", "--mode", "plan", "--api", "chat"], "frontier", "anthropic/claude-opus-4.7"),
    (["--model", "kilo-auto/frontier", "--mode", "code", "--api", "messages"], "frontier", "anthropic/claude-sonnet-4.6"),
    (["--model", "kilo-auto/balanced", "--api", "responses"], "balanced", "openai/gpt-5.5"),
    (["--model", "kilo-auto/small", "--balance", "0"], "small", "google/gemma-4-26b-a4b-it:free"),
    (["--model", "kilo-auto/small", "--balance", "5"], "small", "google/gemma-4-31b-it"),
    (["--balance", "5"], "frontier", "anthropic/claude-sonnet-4.6"),
    ([], "free", None),
])
def test_route_prints_one_json_decision(args, tier, model):
    result = run("route", *args, "--session", "S")
    assert result.returncode == 0, result.stderr
    decision = json.loads(result.stdout)
    assert {"tier", "model", "fallbacks", "params", "reason"} <= set(decision)
    assert decision["tier"] == tier
    if model:
        assert decision["model"] == model


def test_route_prompt_estimates_tokens_and_unavailable_flag():
    result = run("route", "--model", "kilo-auto/frontier", "--mode", "plan",
                 "--unavailable", "anthropic/claude-opus-4.7", "--prompt", "x" * 100)
    decision = json.loads(result.stdout)
    assert decision["model"] == "anthropic/claude-sonnet-4.6"


def test_route_unknown_model_is_a_clear_error():
    result = run("route", "--model", "kilo-auto/nope")
    assert result.returncode == 2
    assert json.loads(result.stderr)["error"]["code"] == "model_not_found"


def test_models_table_lists_catalog_and_tiers():
    result = run("models")
    assert result.returncode == 0
    for needle in ("anthropic/claude-opus-4.7", "openrouter/free", "kilo-auto/efficient", "kilo/auto"):
        assert needle in result.stdout


def test_check_config_ok_and_bad(tmp_path):
    repo_data = Path(__file__).resolve().parents[2] / "data"
    ok = run("check-config", str(repo_data / "catalog.yaml"), str(repo_data / "tiers.yaml"))
    assert ok.returncode == 0 and "ok" in ok.stdout
    bad = tmp_path / "catalog.yaml"
    bad.write_text((repo_data / "catalog.yaml").read_text().replace("context_window: 1000000", "context_window: big", 1))
    result = run("check-config", str(bad))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[0].startswith("catalog.yaml: models[0].context_window: must be a valid integer")


def test_route_does_not_import_litellm():
    code = "import sys; from router.cli import main; main(['route','--model','kilo-auto/free']); print('litellm' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stdout
    assert out.strip().endswith("False")
