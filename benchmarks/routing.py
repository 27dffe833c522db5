"""Offline routing benchmark: `python benchmarks/routing.py [options]` = `autotier bench routing [options]`.

Writes benchmarks/results/<set>.json, benchmarks/results/plots/<set>.png and benchmarks/REPORT.md;
see training/bench/ for the code and `--help` for the options.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training.bench.cli import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main(["routing", *sys.argv[1:]]))
