"""`autotier catalog sync` writes prices and windows with their source."""

from __future__ import annotations

import shutil
import subprocess
import sys

from router.catalog import load_catalog
from router.catalog_sync import sync_catalog
from router.config import PACKAGE_DATA

COST_MAP = {
    "claude-opus-4-7": {"input_cost_per_token": 5e-06, "output_cost_per_token": 2.5e-05,
                        "cache_read_input_token_cost": 5e-07, "max_input_tokens": 1_000_000,
                        "max_output_tokens": 128_000},
    "gemini/gemma-4-26b-a4b-it": {"input_cost_per_token": 1e-07, "output_cost_per_token": 2e-07,
                                  "max_input_tokens": 262_144, "max_output_tokens": 32_768},
}


def test_sync_from_a_given_map(tmp_path):
    path = tmp_path / "catalog.yaml"
    shutil.copy(PACKAGE_DATA / "catalog.yaml", path)
    changes = sync_catalog(path, cost_map=COST_MAP, litellm_version="9.9.9")
    catalog = load_catalog(path)
    opus = catalog["anthropic/claude-opus-4.7"]
    assert (opus.pricing.input, opus.pricing.output, opus.pricing.cache_read) == (5.0, 25.0, 0.5)
    assert (opus.context_window, opus.max_output) == (1_000_000, 128_000)
    assert opus.source.litellm_version == "9.9.9"
    free = catalog["google/gemma-4-26b-a4b-it:free"]
    assert free.pricing.input == 0.0 and free.context_window == 262_144  # free stays free
    qwen = catalog["qwen/qwen3.6-plus"]
    assert qwen.context_window is None and qwen.note  # no key: null, with a note
    assert qwen.pricing.input == 0.4 and qwen.pricing.source  # the operator's price, kept with its source
    assert any("cost-map key 'deepseek/deepseek-v3.2' not found" in c for c in changes)
    assert path.read_text().startswith("# autotier model catalog")


def test_committed_catalog_matches_litellm_cost_map(tmp_path):
    """The shipped catalog is exactly what a sync against the pinned LiteLLM produces."""
    path = tmp_path / "catalog.yaml"
    shutil.copy(PACKAGE_DATA / "catalog.yaml", path)
    result = subprocess.run(
        [sys.executable, "-m", "router.cli", "catalog", "sync", "--catalog", str(path)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("0 change(s)"), result.stdout
    assert path.read_text() == (PACKAGE_DATA / "catalog.yaml").read_text()
