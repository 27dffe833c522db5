"""`autotier tiers diff OLD NEW` as a user runs it (a real subprocess)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.config_copy import copy_config

AUTOTIER = shutil.which("autotier", path=str(Path(sys.executable).parent)) or "autotier"


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([AUTOTIER, "tiers", "diff", *map(str, args)], capture_output=True, text=True, timeout=60)


def _edit(folder: Path, old: str, new: str) -> None:
    tiers = folder / "tiers.yaml"
    text = tiers.read_text()
    assert old in text
    tiers.write_text(text.replace(old, new, 1))


def test_diff_of_two_folders_prints_each_change(tmp_path):
    old, new = copy_config(tmp_path / "old"), copy_config(tmp_path / "new")
    _edit(new, "model: anthropic/claude-opus-4.7", "model: openai/gpt-5.5")
    _edit(new, "quality_bar: {kind: margin, value: 0.06}", "quality_bar: {kind: margin, value: 0.04}")
    result = run(old, new)
    assert result.returncode == 0, result.stderr
    header, *lines = result.stdout.splitlines()
    assert header.startswith("tier mapping ") and " -> " in header
    assert [line.strip() for line in lines] == [
        "frontier / plan, general, architect, orchestrator, ask, debug, claw: "
        "anthropic/claude-opus-4.7 -> openai/gpt-5.5",
        "efficient / quality bar: margin 0.06 -> margin 0.04",
    ]
    back = run(new, old)
    assert "frontier / plan, general, architect, orchestrator, ask, debug, claw: " \
           "openai/gpt-5.5 -> anthropic/claude-opus-4.7" in back.stdout


def test_same_mapping_says_so_and_a_bad_folder_is_named(tmp_path):
    old, new = copy_config(tmp_path / "old"), copy_config(tmp_path / "new")
    (new / "tiers.yaml").write_text((new / "tiers.yaml").read_text() + "\n# only a comment\n")
    same = run(old, new)
    assert same.returncode == 0 and same.stdout.strip().endswith(": no change")
    _edit(new, "model: minimax/minimax-m2.7", "model: no/such-model")
    bad = run(old, new)
    assert bad.returncode == 2
    assert bad.stderr.startswith(f"{new}: tiers.yaml: tiers.open.routes.coding.model: unknown model 'no/such-model'")


def test_tiers_diff_does_not_import_litellm(tmp_path):
    folder = copy_config(tmp_path / "data")
    code = (f"import sys; from router.cli import main; main(['tiers', 'diff', {str(folder)!r}, {str(folder)!r}]); "
            "print('litellm' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stdout
    assert out.strip().endswith("False")
