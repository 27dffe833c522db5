"""The labelling passes over the hand-labelled real rows, and what they agree on.

`data/labels/passes/` keeps every pass so that anyone can recompute the figures in the data
card (data/README.md, "Label passes"):
- `pass1.csv`: the labels as first written (the committed labels before the second pass);
- `pass2.csv`: a second, independent pass, blind to the first;
- `pass3.csv`: a third read of the rows where the two disagreed, which settles them.
Each has `source,row_id,route_key,difficulty,note`; `difficulty` is empty where a row's
difficulty comes from the data set's own evidence (SWE-bench time buckets), not a person.

The final label of a row is the first pass where both passes agree and the third read where
they do not; `apply` writes it into `data/labels/<source>.csv`.

    python -m training.label_passes agreement   # the figures, per source and overall
    python -m training.label_passes apply       # write the settled labels into data/labels
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import defaultdict
from pathlib import Path

from training.sources import REPO_ROOT

LABELS = REPO_ROOT / "data" / "labels"
PASSES = LABELS / "passes"
Key = tuple[str, str]


def read_pass(name: str, folder: Path = PASSES) -> dict[Key, dict[str, str]]:
    with (folder / f"{name}.csv").open(encoding="utf-8", newline="") as fh:
        return {(r["source"], r["row_id"]): r for r in csv.DictReader(fh)}


def agreement(first: dict[Key, dict[str, str]], second: dict[Key, dict[str, str]]) -> dict[str, dict[str, float]]:
    """Share of rows on which two passes agree, per source and 'all': task type, route
    key, and difficulty (over rows with a hand difficulty in both)."""
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for key, a in first.items():
        b = second.get(key)
        if b is None:
            continue
        for group in (key[0], "all"):
            c = counts[group]
            c["rows"] += 1
            c["task_type"] += a["route_key"].split("/")[0] == b["route_key"].split("/")[0]
            c["route_key"] += a["route_key"] == b["route_key"]
            if a["difficulty"] and b["difficulty"]:
                c["difficulty_rows"] += 1
                c["difficulty"] += a["difficulty"] == b["difficulty"]
    return {
        group: {
            "rows": c["rows"],
            "task_type": round(c["task_type"] / c["rows"], 3),
            "route_key": round(c["route_key"] / c["rows"], 3),
            "difficulty": round(c["difficulty"] / c["difficulty_rows"], 3) if c["difficulty_rows"] else None,
        }
        for group, c in sorted(counts.items())
    }


def settled(folder: Path = PASSES) -> dict[Key, dict[str, str]]:
    """The final label of every row: pass 1 where the passes agree, else pass 3."""
    first, third = read_pass("pass1", folder), read_pass("pass3", folder)
    return {key: third.get(key, row) for key, row in first.items()}


def apply(labels: Path = LABELS, folder: Path = PASSES) -> int:
    """Write the settled route keys (and hand difficulties) into the label files; returns
    how many rows changed."""
    final = settled(folder)
    changed = 0
    for path in sorted(labels.glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            fields, rows = reader.fieldnames or [], list(reader)
        before = changed
        for row in rows:
            label = final.get((row["source"], row["row_id"]))
            if label is None or row["label_method"] != "hand":
                continue
            new_key = label["route_key"]
            new_difficulty = label["difficulty"] if row["difficulty_method"] == "hand" and label["difficulty"] \
                else row["difficulty"]
            if (new_key, new_difficulty) != (row["route_key"], row["difficulty"]):
                row["route_key"], row["difficulty"] = new_key, new_difficulty
                changed += 1
        if changed == before:
            continue
        ending = "\r\n" if b"\r\n" in path.read_bytes()[:4096] else "\n"  # keep the file's own line ends
        with path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=fields, lineterminator=ending)
            writer.writeheader()
            writer.writerows(rows)
    return changed


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.label_passes", description=__doc__.split("\n")[0])
    p.add_argument("command", choices=("agreement", "apply"))
    args = p.parse_args(argv)
    if args.command == "apply":
        print(f"{apply()} label rows changed")
        return 0
    first, second, final = read_pass("pass1"), read_pass("pass2"), settled()
    report = {"pass1_vs_pass2": agreement(first, second), "pass1_vs_final": agreement(first, final),
              "pass2_vs_final": agreement(second, final)}
    json.dump(report, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
