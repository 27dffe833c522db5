"""Write the provenance-exact ("weak") label files: DebugBench and MATH-500.

Every DebugBench item is a buggy program to repair (debugging/bug_fixing, difficulty from
its published level); every MATH-500 item is a math problem with no code asked for
(investigation/external_research per TAXONOMY.md, difficulty from MATH level 1-2 / 3 / 4-5).
A deterministic, level-stratified sample keeps them from swamping the hand labels.

    python -m training.weak_labels [--debugbench 300] [--math500 250] [--out data/labels]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from training.sources import REPO_ROOT, RawRow, default_data_root, iter_source

HEADER = ["source", "row_id", "route_key", "difficulty", "label_method", "difficulty_method", "note"]
DEBUGBENCH_LEVELS = {"easy": "low", "medium": "medium", "hard": "high"}


def math_difficulty(level: int) -> str:
    """MATH level 1-2 -> low, 3 -> medium, 4-5 -> high."""
    return "low" if level <= 2 else "medium" if level == 3 else "high"


def _rank(source: str, row_id: str) -> str:
    return hashlib.sha256(f"{source}:{row_id}".encode()).hexdigest()


def stratified_sample(rows: Iterable[RawRow], n: int, stratum: Callable[[RawRow], str]) -> list[RawRow]:
    """About n rows, each stratum in proportion to its size, chosen by a stable hash."""
    groups: dict[str, list[RawRow]] = defaultdict(list)
    for r in rows:
        groups[stratum(r)].append(r)
    total = sum(len(g) for g in groups.values())
    if total <= n:
        return sorted((r for g in groups.values() for r in g), key=lambda r: r.row_id)
    picked: list[RawRow] = []
    for g in groups.values():
        g.sort(key=lambda r: _rank(r.source, r.row_id))
        picked.extend(g[: round(n * len(g) / total)])
    return sorted(picked, key=lambda r: r.row_id)


def level_rows(
    source: str, root: Path, n: int, route_key: str, difficulty: Callable[[Any], str], method: str
) -> list[list[str]]:
    """Weak label rows for a source whose items carry a `level`: one route key for all,
    difficulty from the level, a sample stratified by level."""
    rows = stratified_sample(iter_source(source, root), n, lambda r: str(r.meta["level"]))
    return [
        [source, r.row_id, route_key, difficulty(r.meta["level"]), "weak", method, f"level={r.meta['level']}"]
        for r in rows
    ]


def debugbench_rows(root: Path, n: int) -> list[list[str]]:
    return level_rows("debugbench", root, n, "debugging/bug_fixing", DEBUGBENCH_LEVELS.__getitem__, "debugbench_level")


def math500_rows(root: Path, n: int) -> list[list[str]]:
    return level_rows("math500", root, n, "investigation/external_research", math_difficulty, "math_level")


def write_label_file(path: Path, rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(HEADER)
        writer.writerows(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.weak_labels", description=__doc__)
    ap.add_argument("--data-root", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=REPO_ROOT / "data" / "labels")
    ap.add_argument("--debugbench", type=int, default=300, help="rows to sample (default 300)")
    ap.add_argument("--math500", type=int, default=250, help="rows to sample (default 250)")
    args = ap.parse_args(argv)
    root = args.data_root or default_data_root()
    for name, rows in (
        ("debugbench", debugbench_rows(root, args.debugbench)),
        ("math500", math500_rows(root, args.math500)),
    ):
        write_label_file(args.out / f"{name}.csv", rows)
        print(f"wrote {len(rows)} weak labels to {args.out / f'{name}.csv'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
