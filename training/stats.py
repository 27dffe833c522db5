"""Counts of the labelled data set as Markdown tables (for data/README.md).

python -m training.stats [--lenient]
"""

from __future__ import annotations

import argparse
from collections import Counter

from classifier.taxonomy import load_taxonomy
from training.dataset import Dataset, build_dataset


def _table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def tables(ds: Dataset) -> str:
    tax = load_taxonomy()
    ex = ds.examples
    out = [f"Data set sha256 `{ds.sha256}`: {len(ex)} rows ({len(ds.train)} train, {len(ds.val)} validation).", ""]
    sources = sorted({e.source for e in ex})
    out.append(
        _table(
            ["source", "hand", "weak", "synthetic", "validation", "total"],
            [
                [
                    s,
                    *(sum(e.source == s and e.label_method == m for e in ex) for m in ("hand", "weak", "synthetic")),
                    sum(e.source == s and e.split == "val" for e in ex),
                    sum(e.source == s for e in ex),
                ]
                for s in sources
            ],
        )
    )
    out.append("")
    by = Counter((e.route_key, e.label_method) for e in ex)
    val = Counter(e.route_key for e in ex if e.split == "val")
    rows = [[k, by[(k, "hand")], by[(k, "weak")], by[(k, "synthetic")], val[k]] for k in tax.route_keys]
    tt = Counter((e.task_type, e.label_method) for e in ex)
    tval = Counter(e.task_type for e in ex if e.split == "val")
    rows += [[f"**{t}**", tt[(t, "hand")], tt[(t, "weak")], tt[(t, "synthetic")], tval[t]] for t in tax.task_type_names]
    out.append(_table(["route key / task type", "hand", "weak", "synthetic", "validation"], rows))
    out.append("")
    d = Counter((e.difficulty, e.label_method) for e in ex)
    dv = Counter(e.difficulty for e in ex if e.split == "val")
    out.append(
        _table(
            ["difficulty", "hand", "weak", "synthetic", "validation"],
            [[k, d[(k, "hand")], d[(k, "weak")], d[(k, "synthetic")], dv[k]] for k in tax.difficulty_names],
        )
    )
    dm = Counter(e.difficulty_method for e in ex)
    out += ["", "difficulty methods: " + ", ".join(f"{k} {v}" for k, v in dm.most_common())]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.stats", description=__doc__.split("\n\n")[0])
    ap.add_argument("--lenient", action="store_true")
    args = ap.parse_args(argv)
    ds = build_dataset(load_taxonomy(), strict=not args.lenient)
    print(tables(ds))
    for w in ds.warnings[:20]:
        print("warning:", w)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
