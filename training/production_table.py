"""The production accuracy table: every catalog model x every route key|difficulty cell.

How each catalog model is known comes from the hand-written `data/accuracy/model_map.yaml`
(`measured`, `proxy` or `prior`, see that file). Measured and proxy models take their
SWE-bench bash-only cells as `build_table` computes them; a cell SWE-bench never
observed borrows the model's own SWE-bench rate at that difficulty (marked shrunk).
Prior models have no per-item evidence: their overall rate comes from an aggregate board
or a stated assumption, and every cell is that rate moved by the difficulty offsets the
measured models show, with bounds as wide as the prior's weight.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from router.accuracy import AccuracyTable, Cell, ModelEntry, cell_key
from router.datafile import Strict, read_yaml, validate
from router.errors import ConfigError
from training.accuracy_tables import BOUND_TEXT, build_table, wilson_lower
from training.outcomes import Outcomes, aider_polyglot, swebench_board, swebench_difficulty_records

MAP_FILE = "model_map.yaml"
MIN_PRIOR_WEIGHT, MAX_PRIOR_WEIGHT = 5.0, 100.0  # clip for a calibrated board prior's pseudo-observations


class PriorSpec(Strict):
    board: Literal["swebench_listed", "aider_polyglot", "assumption"]
    name: str | None = None
    rate: float | None = Field(default=None, gt=0, lt=1)
    weight: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _shape(self) -> PriorSpec:
        if self.board == "assumption":
            if self.rate is None or self.weight is None or self.name is not None:
                raise ValueError("an assumption needs `rate` and `weight` and no `name`")
        elif self.name is None or self.rate is not None or self.weight is not None:
            raise ValueError(f"board {self.board} needs `name` (the row on that board) and no `rate`/`weight`")
        return self


class MapEntry(Strict):
    evidence: Literal["measured", "proxy", "prior"]
    swebench: str | None = None
    prior: PriorSpec | None = None
    rationale: str = Field(min_length=1)

    @model_validator(mode="after")
    def _shape(self) -> MapEntry:
        if self.evidence in ("measured", "proxy"):
            if not self.swebench or self.prior is not None:
                raise ValueError(f"{self.evidence} needs `swebench` (the bash-only row name) and no `prior`")
        elif self.prior is None or self.swebench is not None:
            raise ValueError("prior needs `prior` and no `swebench`")
        return self


class CalibrationPair(Strict):
    aider: str
    swebench: str


class ModelMap(Strict):
    version: Literal[1] = 1
    calibration: list[CalibrationPair] = []
    models: dict[str, MapEntry] = Field(min_length=1)


def load_model_map(path: Path, catalog_ids: Iterable[str] | None = None) -> ModelMap:
    """Read and validate the model map; with `catalog_ids`, every catalog model must be
    listed and nothing else. Raises ConfigError, one line per problem."""
    mapping = validate(ModelMap, read_yaml(path), path.name)
    if catalog_ids is not None:
        ids = list(catalog_ids)
        problems = [f"{path.name}: models: catalog model {m!r} is missing" for m in ids if m not in mapping.models]
        problems += [f"{path.name}: models.{m}: not a catalog model" for m in mapping.models if m not in ids]
        if problems:
            raise ConfigError(problems)
    return mapping


def check_names(mapping: ModelMap, per_instance: Iterable[str], listed: dict[str, float],
                aider: dict[str, float], excluded: Sequence[str] = (), filename: str = MAP_FILE) -> None:
    """Every name the map uses must exist on its board (per-instance names among the
    usable lists); raises ConfigError listing each that does not."""
    usable = set(per_instance)
    problems = []
    for model, e in mapping.models.items():
        if e.swebench is not None and e.swebench not in usable:
            why = "its per-instance list was excluded" if e.swebench in excluded else "no usable per-instance list"
            problems.append(f"{filename}: models.{model}.swebench: {e.swebench!r}: {why} on SWE-bench bash-only")
        if e.prior is not None and e.prior.board == "swebench_listed" and e.prior.name not in listed:
            problems.append(f"{filename}: models.{model}.prior.name: {e.prior.name!r} is not on SWE-bench bash-only")
        if e.prior is not None and e.prior.board == "aider_polyglot" and e.prior.name not in aider:
            problems.append(f"{filename}: models.{model}.prior.name: {e.prior.name!r} is not a unique Aider "
                            "polyglot model name")
    for i, pair in enumerate(mapping.calibration):
        if pair.aider not in aider:
            problems.append(f"{filename}: calibration[{i}].aider: {pair.aider!r} is not a unique Aider polyglot name")
        if pair.swebench not in listed:
            problems.append(f"{filename}: calibration[{i}].swebench: {pair.swebench!r} is not on SWE-bench bash-only")
    if problems:
        raise ConfigError(problems)


def _logit(p: float) -> float:
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def fit_calibration(pairs: Sequence[tuple[float, float]]) -> dict[str, float]:
    """Least squares logit(y) = a + b logit(x) over (aider rate, swebench rate) pairs."""
    x = np.array([_logit(a) for a, _ in pairs])
    y = np.array([_logit(s) for _, s in pairs])
    b, a = np.polyfit(x, y, 1)
    resid = y - (a + b * x)
    sd = float(np.sqrt((resid**2).sum() / max(len(pairs) - 2, 1)))
    r = float(np.corrcoef(x, y)[0, 1])
    return {"a": float(a), "b": float(b), "residual_sd_logit": sd, "r": r, "pairs": len(pairs)}


def _empirical_logit(cell: Cell) -> float:
    k = (cell.accuracy or 0.0) * cell.n
    return math.log((k + 0.5) / (cell.n - k + 0.5))


def difficulty_offsets(marginals: AccuracyTable, models: Iterable[str], levels: Sequence[str]) -> dict[str, float]:
    """Median over `models` of logit(rate at a difficulty) - logit(overall rate), with
    the +0.5 empirical-logit correction so a 0-of-45 cell does not dominate."""
    out = {}
    for d in levels:
        diffs = [_empirical_logit(marginals.models[m].cells[d]) - _empirical_logit(marginals.models[m].overall)
                 for m in models if d in marginals.models[m].cells]
        out[d] = float(np.median(diffs)) if diffs else 0.0
    return out


def build_production(
    swe: Outcomes,
    mapping: ModelMap,
    route_keys: Sequence[str],
    levels: Sequence[str],
    root: Path,
    *,
    catalog_ids: Sequence[str],
    provenance: dict[str, Any],
) -> AccuracyTable:
    """The production table for `catalog_ids` (in catalog order)."""
    cells = [cell_key(rk, d) for rk in route_keys for d in levels]
    listed = {r["name"]: float(r["resolved"]) / 100 for r in swebench_board(root)}
    aider = aider_polyglot(root)
    excluded = [e.split(":", 1)[0] for e in swe.exclusions]
    check_names(mapping, swe.models, listed, aider, excluded)

    by_cell = build_table(swe.records, cells)
    marginals = build_table(swebench_difficulty_records(swe), levels)
    offsets = difficulty_offsets(marginals, swe.models, levels)
    fit = fit_calibration([(aider[p.aider], listed[p.swebench]) for p in mapping.calibration])
    level_counts = Counter(c.rsplit("|", 1)[1] for m, c, _ in swe.records if m == next(iter(swe.models)))
    level_share = {d: level_counts[d] / sum(level_counts.values()) for d in levels}

    models: dict[str, ModelEntry] = {}
    for model_id in catalog_ids:
        e = mapping.models[model_id]
        if e.swebench is not None:
            models[model_id] = _from_swebench(e, by_cell.models[e.swebench], marginals.models[e.swebench], cells)
        else:
            assert e.prior is not None
            models[model_id] = _from_prior(e, e.prior, listed, aider, fit, offsets, level_share, cells, levels)
    provenance = {
        **provenance,
        "difficulty_offsets_logit": {d: round(v, 4) for d, v in offsets.items()},
        "aider_to_swebench_calibration": {k: round(v, 4) if isinstance(v, float) else v for k, v in fit.items()},
    }
    return AccuracyTable(bound=BOUND_TEXT, cells=tuple(cells), provenance=provenance, models=models)


def _from_swebench(e: MapEntry, measured: ModelEntry, marg: ModelEntry, cells: Sequence[str]) -> ModelEntry:
    out_cells = {}
    for c in cells:
        if c in measured.cells:
            out_cells[c] = measured.cells[c]
        else:
            d = marg.cells[c.rsplit("|", 1)[1]]
            out_cells[c] = Cell(accuracy=None, n=0, lower=d.lower, shrunk=True)
    observed = len(measured.cells)
    note = (
        f"{e.evidence} via SWE-bench bash-only {e.swebench!r}: {e.rationale.strip()} "
        f"{observed} of {len(cells)} cells observed (hand-labelled route key|difficulty of the 500 tasks); "
        f"the other {len(cells) - observed} have no per-item evidence and borrow this model's own SWE-bench "
        "bound at the same difficulty (Beta posterior shrunk toward its overall rate), marked shrunk."
    )
    return ModelEntry(evidence=e.evidence, measured_as=(e.swebench or "",), note=note,
                      overall=measured.overall, cells=out_cells)


def _from_prior(e: MapEntry, p: PriorSpec, listed: dict[str, float], aider: dict[str, float],
                fit: dict[str, float], offsets: dict[str, float], level_share: dict[str, float],
                cells: Sequence[str], levels: Sequence[str]) -> ModelEntry:
    if p.board == "swebench_listed":
        assert p.name is not None
        rate, weight = listed[p.name], 500.0
        basis = f"SWE-bench bash-only listed rate of {p.name!r} ({100 * rate:.2f}% of 500 tasks, aggregate only)"
    elif p.board == "aider_polyglot":
        assert p.name is not None
        rate = _sigmoid(fit["a"] + fit["b"] * _logit(aider[p.name]))
        var = rate * (1 - rate) * fit["residual_sd_logit"] ** 2
        weight = min(max(1 / var if var > 0 else MAX_PRIOR_WEIGHT, MIN_PRIOR_WEIGHT), MAX_PRIOR_WEIGHT)
        basis = (f"Aider polyglot {p.name!r} {100 * aider[p.name]:.1f}% mapped to the SWE-bench bash-only scale "
                 f"({100 * rate:.1f}%) by the logit calibration in provenance; worth {weight:.0f} "
                 "pseudo-observations (from the calibration's residual spread)")
    else:
        assert p.rate is not None and p.weight is not None
        rate, weight = p.rate, p.weight
        basis = f"stated assumption: rate {rate:.2f} worth {weight:g} pseudo-observations"
    measured = (p.name,) if p.name else ()
    out_cells = {}
    for c in cells:
        d = c.rsplit("|", 1)[1]
        rate_d = _sigmoid(_logit(rate) + offsets[d])
        n_d = weight * level_share[d]
        out_cells[c] = Cell(accuracy=None, n=0, lower=wilson_lower(rate_d * n_d, n_d), shrunk=True)
    shifts = ", ".join(f"{d} {offsets[d]:+.2f}" for d in levels)
    note = (
        f"prior (no per-item evidence): {e.rationale.strip()} Overall: {basis}. Every cell is that rate moved by "
        f"the measured models' median per-difficulty logit offset ({shifts}), Wilson bound on the prior's weight "
        "split by the difficulty mix of SWE-bench; all cells shrunk, none observed."
    )
    overall = Cell(accuracy=rate, n=weight, lower=wilson_lower(rate * weight, weight))
    return ModelEntry(evidence="prior", measured_as=measured, note=note, overall=overall, cells=out_cells)
