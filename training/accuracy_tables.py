"""Accuracy tables from per-item benchmark outcomes (see `router.accuracy` for the format).

`build_table` turns (model, cell, outcome) records into a table: per model an overall
rate with a Wilson lower bound, and per cell a Beta posterior whose prior is centred on
the model's overall rate, so a thin cell is pulled toward it (and marked `shrunk`).
The offline benchmarks call it on their training folds; the production table builder
below calls it on the public outcome sets.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from scipy.stats import beta as beta_dist

from router.accuracy import AccuracyTable, Cell, ModelEntry
from training.evalsuite.runner import OWN_SUITE_DIR, add_eval_parser, eval_command

PRIOR_STRENGTH = 10.0  # pseudo-observations the model's overall rate contributes to a cell
THIN = 30  # cells with fewer observations are reported as shrunk
LEVEL = 0.05  # one-sided: `lower` is the 5% quantile / a 95% lower bound
Z = 1.6448536269514722  # standard normal 95% quantile, for Wilson


def wilson_lower(successes: float, n: float, z: float = Z) -> float:
    """Wilson score lower bound for a binomial rate (0 when n is 0)."""
    if n <= 0:
        return 0.0
    p = successes / n
    denom = 1 + z * z / n
    centre = p + z * z / (2 * n)
    margin = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, (centre - margin) / denom)


def beta_lower(successes: float, n: float, prior_mean: float, strength: float = PRIOR_STRENGTH,
               level: float = LEVEL) -> float:
    """`level` quantile of the Beta posterior with prior Beta(strength x mean, strength x (1 - mean))."""
    mean = min(max(prior_mean, 1e-6), 1 - 1e-6)
    a = strength * mean + successes
    b = strength * (1 - mean) + (n - successes)
    return float(beta_dist.ppf(level, a, b))


BOUND_TEXT = (
    f"overall: Wilson {1 - LEVEL:.0%} lower bound; cells: {LEVEL:.0%} quantile of a Beta posterior "
    f"whose prior is the model's overall rate with {PRIOR_STRENGTH:g} pseudo-observations; "
    f"cells with fewer than {THIN} observations are marked shrunk"
)


def build_table(
    records: Iterable[tuple[str, str, float]],
    cells: Sequence[str],
    *,
    provenance: dict[str, Any] | None = None,
    evidence: dict[str, tuple[str, tuple[str, ...], str]] | None = None,
    strength: float = PRIOR_STRENGTH,
    thin: int = THIN,
) -> AccuracyTable:
    """`records`: (model, cell, outcome in [0, 1]). Graded outcomes (a judge's score
    scaled to [0, 1]) count as fractional successes. `evidence` optionally maps a model to
    (evidence kind, source model names, note); the default is `measured` under its own name.
    """
    sums: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(lambda: [0.0, 0.0]))
    for model, cell, outcome in records:
        acc = sums[model][cell]
        acc[0] += outcome
        acc[1] += 1
    cell_set = set(cells)
    models: dict[str, ModelEntry] = {}
    for model, by_cell in sorted(sums.items()):
        k = sum(s for s, _ in by_cell.values())
        n = sum(c for _, c in by_cell.values())
        rate = k / n
        overall = Cell(accuracy=rate, n=n, lower=wilson_lower(k, n))
        entry_cells = {
            cell: Cell(
                accuracy=s / c, n=c, lower=beta_lower(s, c, rate, strength), shrunk=c < thin,
            )
            for cell, (s, c) in sorted(by_cell.items())
            if cell in cell_set
        }
        kind, measured_as, note = (evidence or {}).get(model, ("measured", (model,), ""))
        models[model] = ModelEntry(
            evidence=kind, measured_as=measured_as, note=note, overall=overall, cells=entry_cells,  # type: ignore[arg-type]
        )
    return AccuracyTable(bound=BOUND_TEXT, cells=tuple(cells), provenance=provenance or {}, models=models)


# --- building the committed files (`autotier accuracy build`) ---------------------------

REPO_ROOT = Path(__file__).resolve().parents[1]
COMMAND = "autotier accuracy build --data-root ../shared/data --out data/accuracy"
SOURCE_TABLES = ("swebench", "debugbench", "routerbench", "llmrouter", "routellm")


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _file_entry(path: Path, root: Path) -> dict[str, str]:
    """A file named relative to the data root (raw files) or the repository (ours)."""
    for base, prefix in ((root, ""), (REPO_ROOT, "autotier:")):
        try:
            return {"path": prefix + path.resolve().relative_to(base.resolve()).as_posix(), "sha256": sha256_of(path)}
        except ValueError:
            continue
    return {"path": path.name, "sha256": sha256_of(path)}


def source_provenance(out: Any, root: Path) -> dict[str, Any]:
    """Provenance block for one source's table (`out` is a training.outcomes.Outcomes)."""
    from training.outcomes import SOURCE_INFO

    info = SOURCE_INFO[out.source]
    prov: dict[str, Any] = {
        "source": out.source,
        "upstream": info["upstream"],
        "licence": info["licence"],
        "command": COMMAND,
        "files": [_file_entry(p, root) for p in out.files],
        "counts": out.counts,
        "exclusions": out.exclusions,
        "notes": out.notes,
    }
    if out.models:
        prov["models"] = out.models
    return prov


def _rounded(value: Any, places: int = 6) -> Any:
    """Floats rounded so a rebuild on another machine writes the same bytes."""
    if isinstance(value, float):
        return round(value, places)
    if isinstance(value, dict):
        return {k: _rounded(v, places) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v, places) for v in value]
    return value


def table_json(table: AccuracyTable) -> str:
    data = _rounded(table.model_dump(mode="json", exclude_defaults=False))
    for entry in data["models"].values():  # written only when there is some
        if not entry.get("own_evidence"):
            entry.pop("own_evidence", None)
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


def build_sources(root: Path, labels: Path) -> dict[str, tuple[AccuracyTable, Any]]:
    """Every per-source table (source -> (table, its Outcomes))."""
    from training import outcomes as oc

    loaded = {
        "swebench": oc.load_swebench(root, labels),
        "debugbench": oc.load_debugbench(root),
        "routerbench": oc.load_routerbench(root),
        "llmrouter": oc.load_llmrouter(root),
        "routellm": oc.load_routellm(root),
    }
    tables = {}
    for name, out in loaded.items():
        tables[name] = (build_table(out.records, out.cells, provenance=source_provenance(out, root)), out)
    return tables


def production_from(swe: Any, root: Path, *, catalog_path: Path, taxonomy_path: Path, map_path: Path,
                    labels: Path, own_suite: Path | None = None, feedback: str | None = None,
                    feedback_weight: float = 0.5, feedback_limits: tuple[float, int, float] = (5.0, 3, 1.0)
                    ) -> AccuracyTable:
    """The production table from the success model (`training.success_model`) over the
    public outcome sets, the model map and the boards; `swe` is the SWE-bench `Outcomes`
    (its exclusions and notes go into the provenance). `own_suite` (a folder of
    `accuracy eval` outcome files) and `feedback` (a ledger) add the operator's own
    evidence (`training.own_evidence`)."""
    from classifier.taxonomy import load_taxonomy
    from router.catalog import load_catalog
    from training.boards import AIDER_POLYGLOT, WILDBENCH
    from training.outcomes import SOURCE_INFO
    from training.production_table import build_production, load_model_map

    catalog_ids = [m.id for m in load_catalog(catalog_path)]
    mapping = load_model_map(map_path, catalog_ids)
    taxonomy = load_taxonomy(taxonomy_path)
    levels = taxonomy.difficulty_names
    own = _own_evidence(catalog_ids, [f"{rk}|{d}" for rk in taxonomy.route_keys for d in levels],
                        own_suite, feedback, feedback_weight, feedback_limits)
    used = ("swebench", "livecodebench", "debugbench", "routerbench", "aider", "wildbench")
    provenance = {
        "command": COMMAND,
        "upstream": {k: SOURCE_INFO[k]["upstream"] for k in used},
        "licence": {k: SOURCE_INFO[k]["licence"] for k in used},
        "use": "research and evaluation: built from SWE-bench site data (CC BY-NC 4.0)",
        "swebench_models": swe.models,
        "exclusions": swe.exclusions,
        "notes": [*swe.notes, wildbench_note(root)],
    }
    table, gathered = build_production(root, labels, mapping, taxonomy.route_keys, levels,
                                       catalog_ids=catalog_ids, provenance=provenance, own=own)
    # catalog.yaml is not hashed: it only decides which ids get an entry (checked by the tests), and a
    # price edit must not make the table stale.
    files = [*gathered.files, root / AIDER_POLYGLOT, root / WILDBENCH, map_path, taxonomy_path,
             *(own.files if own else ())]
    table.provenance["files"] = [_file_entry(p, root) for p in dict.fromkeys(files)]
    return table


def _own_evidence(catalog_ids: list[str], cells: list[str], own_suite: Path | None, feedback: str | None,
                  feedback_weight: float, feedback_limits: tuple[float, int, float]) -> Any:
    from training.own_evidence import merge, read_feedback, read_own_suite

    parts = []
    if own_suite is not None and own_suite.is_dir():
        from training.evalsuite.cases import load_suite
        from training.evalsuite.runner import case_hash

        current = {(c.id, case_hash(c)) for c in load_suite()}
        parts.append(read_own_suite(own_suite, catalog_ids, cells, current))
    if feedback:
        parts.append(read_feedback(feedback, catalog_ids, cells, feedback_weight, *feedback_limits))
    own = merge(*parts) if parts else None
    return own if own is not None and (own.by_model or own.notes) else None


def wildbench_note(root: Path) -> str:
    """Why WildBench task categories do not adjust cells (the figures it rests on)."""
    import numpy as np

    from training.boards import wildbench_scores

    scores = wildbench_scores(root, ("Coding & Debugging", "Planning & Reasoning"))
    arr = np.array(list(scores.values()))
    r = float(np.corrcoef(arr.T)[0, 1])
    return (
        f"WildBench (not used for cells): over its {len(arr)} models, Coding & Debugging and Planning & Reasoning "
        f"scores correlate at r = {r:.3f}, so a task-type adjustment would barely reorder models, and no catalog "
        "model is on it (its newest rows are 2024 models); planning/investigation cells therefore borrow each "
        "model's SWE-bench difficulty figures instead"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """`autotier accuracy build`: write data/accuracy/sources/*.json and production.json."""
    import argparse

    from router.errors import ConfigError
    from router.gateway.database import LedgerUnavailable
    from training.sources import SourceError, default_data_root

    parser = argparse.ArgumentParser(prog="autotier accuracy", description="accuracy tables with provenance")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build the per-source tables and the production table")
    b.add_argument("--data-root", type=Path, default=None, help="public data root (default: ../shared/data)")
    b.add_argument("--out", type=Path, default=REPO_ROOT / "data" / "accuracy")
    b.add_argument("--catalog", type=Path, default=REPO_ROOT / "data" / "catalog.yaml")
    b.add_argument("--taxonomy", type=Path, default=REPO_ROOT / "data" / "taxonomy.yaml")
    b.add_argument("--labels", type=Path, default=REPO_ROOT / "data" / "labels" / "swebench.csv")
    b.add_argument("--model-map", type=Path, default=REPO_ROOT / "data" / "accuracy" / "model_map.yaml")
    b.add_argument("--own-suite", type=Path, default=OWN_SUITE_DIR,
                   help="folder of `accuracy eval` outcome files (default: data/accuracy/own_suite)")
    b.add_argument("--feedback", metavar="DB_OR_URL",
                   help="also fold in the feedback stored in this gateway ledger (SQLite file or postgresql:// URL)")
    b.add_argument("--feedback-weight", type=float, default=0.5,
                   help="weight of one request's feedback against one graded suite outcome (default 0.5)")
    b.add_argument("--feedback-per-account", type=float, default=5.0,
                   help="most requests one account's feedback weighs per model (default 5)")
    b.add_argument("--feedback-min-accounts", type=int, default=3,
                   help="a model's feedback counts only once this many accounts gave some (default 3)")
    b.add_argument("--feedback-max-shift", type=float, default=1.0,
                   help="most logits feedback moves a model's ability in one build (default 1.0)")
    add_eval_parser(sub)
    args = parser.parse_args(argv)
    if args.command == "eval":
        try:
            return eval_command(args)
        except ConfigError as exc:
            print("\n".join(exc.problems), file=sys.stderr)
            return 2

    root = args.data_root or default_data_root()
    try:
        from router.catalog import load_catalog
        from training.production_table import load_model_map

        load_model_map(args.model_map, [m.id for m in load_catalog(args.catalog)])  # fail fast, before the sources
        tables = build_sources(root, args.labels)
        production = production_from(tables["swebench"][1], root, catalog_path=args.catalog,
                                     taxonomy_path=args.taxonomy, map_path=args.model_map, labels=args.labels,
                                     own_suite=args.own_suite, feedback=args.feedback,
                                     feedback_weight=args.feedback_weight,
                                     feedback_limits=(args.feedback_per_account, args.feedback_min_accounts,
                                                      args.feedback_max_shift))
    except ConfigError as exc:
        print("\n".join(exc.problems), file=sys.stderr)
        return 2
    except SourceError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except LedgerUnavailable as exc:  # --feedback names no ledger
        print(f"--feedback: {exc}", file=sys.stderr)
        return 2
    (args.out / "sources").mkdir(parents=True, exist_ok=True)
    for name, (table, out) in tables.items():
        (args.out / "sources" / f"{name}.json").write_text(table_json(table), encoding="utf-8")
        print(f"sources/{name}.json: {len(table.models)} models, {len(table.cells)} cells, {len(out.records)} records")
    (args.out / "production.json").write_text(table_json(production), encoding="utf-8")
    kinds = Counter(e.evidence for e in production.models.values())
    print(f"production.json: {len(production.models)} models ({dict(kinds)}), {len(production.cells)} cells")
    for model_id, entry in production.models.items():
        if entry.own_evidence:
            (before, _), (after, sd) = entry.own_evidence["ability"]["before"], entry.own_evidence["ability"]["after"]
            amounts = ", ".join(f"{origin.replace('_', ' ')} " + "/".join(
                f"{lvl} {v['n']}" for lvl, v in entry.own_evidence[origin].items())
                for origin in ("own_suite", "feedback") if origin in entry.own_evidence)
            clamped = entry.own_evidence.get("feedback_shift_clamped")
            limit = f"; feedback's shift {clamped[0]:+.2f} clamped to {clamped[1]:+.2f}" if clamped else ""
            print(f"  {model_id}: ability {before:+.2f} -> {after:+.2f} (sd {sd:.2f}) from {amounts}{limit}")
    for note in production.provenance.get("own_evidence_notes", []):
        print(f"  {note}")
    return 0
