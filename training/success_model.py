"""The success model behind the production table: P(success | model, request) with model
ability and request difficulty on one scale, linked across public outcome sets.

1. `gather` reads per-item outcomes (SWE-bench bash-only per-instance lists, LiveCodeBench
   code generation pass@1, DebugBench debug results, RouterBench MBPP) plus the listed
   SWE-bench rates of models without a per-instance list (as aggregate evidence). Each
   (source, model) is an ability node; the model map's `links` join nodes that are the
   same model (one node) or a stand-in (a soft link).
2. `training.irt.fit` places every node and item on one logit scale (SWE-bench items
   centred at 0, slope 1).
3. Each production cell (route key|difficulty) is a pool of items: the items of every
   source labelled with that cell, shrunk toward the level pool (every source's items of
   that difficulty, sources weighted equally) with `CELL_PRIOR_ITEMS` pseudo-items, so a
   route key moves away from its level only as far as outcome evidence takes it.
4. A catalog model's ability is its own node's (measured), a stand-in's with extra spread
   (proxy), or the ability that reproduces a prior rate on SWE-bench (prior). Its cell
   figure is the pool's mean success at that ability; `lower` uses ability - Z x sd.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from training import irt
from training.outcomes import (
    read_debugbench,
    read_livecodebench,
    read_routerbench,
    read_swebench,
    swebench_board,
)

SOURCES = ("swebench", "livecodebench", "debugbench", "routerbench")
REFERENCE = "swebench"
LCB_LEVELS = {"easy": "low", "medium": "medium", "hard": "high"}
CELL_PRIOR_ITEMS = 30.0  # pseudo-items of the level pool in every cell
Z = 1.645  # one-sided 95%


@dataclass
class Gathered:
    """Named evidence for `irt.fit`: nodes are `source:model`, items `source:id`."""

    sources: list[str] = field(default_factory=lambda: list(SOURCES))
    nodes: dict[str, int] = field(default_factory=dict)
    items: dict[str, int] = field(default_factory=dict)
    item_source: list[int] = field(default_factory=list)
    item_cell: list[str | None] = field(default_factory=list)  # route_key|difficulty when labelled
    item_level: list[str | None] = field(default_factory=list)
    responses: list[tuple[int, int, float]] = field(default_factory=list)
    aggregates: list[tuple[int, int, float, float]] = field(default_factory=list)  # node, source, rate, n
    links: list[tuple[int, int, float]] = field(default_factory=list)  # node a, node b, sd
    files: list[Path] = field(default_factory=list)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    exclusions: list[str] = field(default_factory=list)

    def node(self, source: str, model: str) -> int:
        return self.nodes.setdefault(f"{source}:{model}", len(self.nodes))

    def item(self, source: str, item_id: str, cell: str | None, level: str | None) -> int:
        key = f"{source}:{item_id}"
        if key not in self.items:
            self.items[key] = len(self.items)
            self.item_source.append(self.sources.index(source))
            self.item_cell.append(cell)
            self.item_level.append(level)
        return self.items[key]

    def add(self, source: str, model: str, item_id: str, y: float, cell: str | None, level: str | None) -> None:
        self.responses.append((self.node(source, model), self.item(source, item_id, cell, level), y))


def gather(root: Path, labels_path: Path) -> Gathered:
    """Every source's per-item outcomes, and SWE-bench listed rates as aggregates."""
    g = Gathered()
    swe = read_swebench(root, labels_path)
    g.files += swe.files
    for res in swe.runs:
        for iid, d in sorted(res["per_instance_details"].items()):
            rk, lvl = swe.labels.get(iid, (None, None))
            g.add("swebench", res["name"], iid, d["resolved"], f"{rk}|{lvl}" if rk else None, lvl)
    listed = {r["name"]: float(r["resolved"]) / 100 for r in swebench_board(root)}
    n_tasks = len({k for k in g.items if k.startswith("swebench:")})
    for name in [*swe.no_list, *(m[0] for m in swe.mismatched)]:
        g.aggregates.append((g.node("swebench", name), 0, listed[name], float(n_tasks)))
    g.exclusions += [f"swebench: {m[0]}: per-instance list does not match its listed rate; only the listed rate "
                     "is used (as an aggregate)" for m in swe.mismatched]

    rows, files = read_livecodebench(root)
    g.files += files
    for r in rows:
        lvl = LCB_LEVELS[r["difficulty"]]
        g.add("livecodebench", r["model"], r["question_id"], float(r["pass@1"]) / 100,
              f"implementation/code_generation|{lvl}", lvl)

    db_rows, files, _ = read_debugbench(root)
    g.files += files
    for r in db_rows:
        g.add("debugbench", r["model"], r["item"], r["outcome"], f"debugging/bug_fixing|{r['level']}", r["level"])

    rb = read_routerbench(root)
    g.files += [f for f in rb.files if "mbpp" in f.name]
    seen: set[str] = set()
    for r in rb.rows:
        if r["eval_name"] != "mbpp" or r["sample_id"] in seen:
            continue
        seen.add(r["sample_id"])
        for m in rb.models:
            if r[m] is not None:
                g.add("routerbench", m, r["sample_id"], r[m], None, None)
    for s in g.sources:
        prefix = f"{s}:"
        g.counts[s] = {"models": sum(k.startswith(prefix) for k in g.nodes),
                       "items": sum(k.startswith(prefix) for k in g.items)}
    g.counts["responses"] = {"total": len(g.responses)}
    return g


def apply_links(g: Gathered, links: list[Any]) -> list[str]:
    """Join nodes: a `same` link merges its members into one node, a `stand_in` link
    ties the others to the first softly (sd in logits). Returns one sentence per link."""
    parent = {i: i for i in g.nodes.values()}

    def find(x: int) -> int:
        while parent[x] != x:
            x = parent[x]
        return x

    soft: list[tuple[int, int, float]] = []
    out = []
    for index, link in enumerate(links):
        names = [f"{s}:{m}" for s, m in link.members.items()]
        missing = [n for n in names if n not in g.nodes]
        if missing:
            raise ValueError(f"links[{index}]: no outcomes for {', '.join(repr(n) for n in missing)}")
        ids = [g.nodes[n] for n in names]
        for other in ids[1:]:
            if link.kind == "same":
                parent[find(other)] = find(ids[0])
            else:
                soft.append((ids[0], other, float(link.sd)))
        out.append((" = " if link.kind == "same" else " ~ ").join(names)
                   + ("" if link.kind == "same" else f" (stand-in, sd {link.sd:g} logit)"))
    index = {r: k for k, r in enumerate(sorted({find(i) for i in parent}))}

    def new(i: int) -> int:
        return index[find(i)]

    g.nodes = {k: new(i) for k, i in g.nodes.items()}
    g.responses = [(new(n), i, y) for n, i, y in g.responses]
    g.aggregates = [(new(n), s, r, k) for n, s, r, k in g.aggregates]
    g.links = [(new(a), new(b), sd) for a, b, sd in [*g.links, *soft]]
    return out


def evidence(g: Gathered) -> irt.Evidence:
    resp = np.array(g.responses, dtype=np.float64).reshape(-1, 3)
    agg = np.array(g.aggregates, dtype=np.float64).reshape(-1, 4)
    lk = np.array(g.links, dtype=np.float64).reshape(-1, 3)
    return irt.Evidence(
        n_nodes=len(set(g.nodes.values())), n_sources=len(g.sources),
        item_source=np.array(g.item_source, dtype=int),
        node=resp[:, 0].astype(int), item=resp[:, 1].astype(int), y=resp[:, 2],
        agg_node=agg[:, 0].astype(int), agg_source=agg[:, 1].astype(int), agg_rate=agg[:, 2], agg_n=agg[:, 3],
        link_a=lk[:, 0].astype(int), link_b=lk[:, 1].astype(int), link_sd=lk[:, 2],
    )


def connected(g: Gathered, reference: str = REFERENCE) -> set[int]:
    """Nodes connected to the reference source through shared items, aggregates or links."""
    n_nodes = len(set(g.nodes.values()))
    parent = list(range(n_nodes + len(g.sources)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def join(a: int, b: int) -> None:
        parent[find(a)] = find(b)

    for node, item, _ in g.responses:
        join(node, n_nodes + g.item_source[item])
    for node, src, _, _ in g.aggregates:
        join(node, n_nodes + src)
    for a, b, _ in g.links:
        join(a, b)
    ref = find(n_nodes + g.sources.index(reference))
    return {k for k in range(n_nodes) if find(k) == ref}


Part = tuple[int, np.ndarray, np.ndarray]  # source index, item difficulties, slopes


@dataclass
class Pools:
    """Item difficulties and slopes by cell and by level, per source."""

    by_cell: dict[str, list[Part]]
    by_level: dict[str, list[Part]]

    def success(self, theta: Sequence[float], cell: str) -> tuple[float, int]:
        """Mean success on the cell's pool of a model with ability `theta[s]` on source s,
        and the cell's own item count."""
        level = cell.rsplit("|", 1)[1]
        p_level = _mean_over_sources(theta, self.by_level.get(level, []))
        own = self.by_cell.get(cell, [])
        n = sum(len(b) for _, b, _ in own)
        if n == 0:
            return p_level, 0
        p_own = _mean_over_sources(theta, own)
        return (n * p_own + CELL_PRIOR_ITEMS * p_level) / (n + CELL_PRIOR_ITEMS), n

    def difficulty(self, cell: str, n_sources: int) -> float:
        """The ability that succeeds half the time on the cell (the same on every source):
        the cell's place on the scale."""
        lo, hi = -15.0, 15.0
        for _ in range(50):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if self.success([mid] * n_sources, cell)[0] < 0.5 else (lo, mid)
        return (lo + hi) / 2


def _mean_over_sources(theta: Sequence[float], parts: list[Part]) -> float:
    if not parts:
        return float("nan")
    return float(np.mean([np.mean(irt.success(theta[s], b, a)) for s, b, a in parts]))


def pools(g: Gathered, fit: irt.Fit) -> Pools:
    by_cell: dict[str, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
    by_level: dict[str, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
    for i, (src, cell, lvl) in enumerate(zip(g.item_source, g.item_cell, g.item_level, strict=True)):
        if cell is not None:
            by_cell[cell][src].append(i)
        if lvl is not None:
            by_level[lvl][src].append(i)

    def parts(groups: dict[int, list[int]]) -> list[Part]:
        return [(s, fit.b[idx], np.full(len(idx), fit.slope(s))) for s, idx in sorted(groups.items())]

    return Pools({c: parts(v) for c, v in by_cell.items()}, {d: parts(v) for d, v in by_level.items()})
