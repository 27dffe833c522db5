"""The production accuracy table: every catalog model x every route key|difficulty cell,
computed from the success model (`training.success_model`, `training.irt`).

How each catalog model is known comes from the hand-written `data/accuracy/model_map.yaml`
(`measured`, `proxy` or `prior`, see that file): its ability on the common scale is its
own fitted ability, a named stand-in's with extra spread, or the ability that reproduces a
prior rate on SWE-bench. A cell's figure is the mean success of that ability over the
cell's item pool; `lower` is the same at the ability's one-sided 95% lower end.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from router.accuracy import AccuracyTable, Cell, ModelEntry, cell_key
from router.datafile import Strict, read_yaml, validate
from router.errors import ConfigError
from training import irt
from training.boards import aider_polyglot
from training.outcomes import swebench_board
from training.own_evidence import OwnEvidence, updated_abilities
from training.success_model import (
    CELL_PRIOR_ITEMS,
    REFERENCE,
    Gathered,
    Z,
    apply_links,
    connected,
    evidence,
    gather,
    pools,
)

MAP_FILE = "model_map.yaml"
BOUND_TEXT = (
    "success model: accuracy = mean P(success) of the model's ability over the cell's item pool (Rasch model "
    "fitted on SWE-bench bash-only, LiveCodeBench, DebugBench and RouterBench MBPP, linked by shared models); "
    "lower = the same at ability - 1.645 sd (fit, stand-in and transfer spread); n = the cell's own items"
)
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
    """How one catalog model is known. `swebench` / `livecodebench` name its node (the
    model itself when measured, a stand-in when proxy) on that source; `proxy_sd` is the
    extra spread (logits) a stand-in adds."""

    evidence: Literal["measured", "proxy", "prior"]
    swebench: str | None = None
    livecodebench: str | None = None
    proxy_sd: float | None = Field(default=None, gt=0)
    prior: PriorSpec | None = None
    rationale: str = Field(min_length=1)

    @model_validator(mode="after")
    def _shape(self) -> MapEntry:
        if self.evidence in ("measured", "proxy"):
            if not (self.swebench or self.livecodebench) or self.prior is not None:
                raise ValueError(f"{self.evidence} needs `swebench` or `livecodebench` (the row name) and no `prior`")
        elif self.prior is None or self.swebench is not None or self.livecodebench is not None:
            raise ValueError("prior needs `prior` and no `swebench`/`livecodebench`")
        return self

    def names(self) -> dict[str, str]:
        """source -> row name, SWE-bench first."""
        return {s: n for s, n in (("swebench", self.swebench), ("livecodebench", self.livecodebench)) if n}


class CalibrationPair(Strict):
    aider: str
    swebench: str


class Link(Strict):
    """Rows of different sources that are one model (`same`, one ability) or a close
    stand-in (`stand_in`: abilities tied with `sd` logits)."""

    kind: Literal["same", "stand_in"]
    members: dict[Literal["swebench", "livecodebench", "debugbench", "routerbench"], str] = Field(min_length=2)
    sd: float | None = Field(default=None, gt=0)
    rationale: str = Field(min_length=1)

    @model_validator(mode="after")
    def _sd(self) -> Link:
        if (self.kind == "stand_in") != (self.sd is not None):
            raise ValueError("a stand_in link needs `sd`; a same link has none")
        return self


class ModelMap(Strict):
    version: Literal[1] = 1
    proxy_sd: float = Field(default=0.25, gt=0)  # default extra spread of a stand-in, logits
    transfer_sd: float = Field(default=0.5, gt=0)  # spread when an ability carries to a source it was not seen on
    calibration: list[CalibrationPair] = []
    links: list[Link] = []
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
                aider: dict[str, float], excluded: Sequence[str] = (), filename: str = MAP_FILE,
                livecodebench: Iterable[str] | None = None) -> None:
    """Every name the map uses must exist on its board (per-instance names among the
    usable lists); raises ConfigError listing each that does not."""
    usable = set(per_instance)
    lcb = set(livecodebench) if livecodebench is not None else None
    problems = []
    for model, e in mapping.models.items():
        if lcb is not None and e.livecodebench is not None and e.livecodebench not in lcb:
            problems.append(
                f"{filename}: models.{model}.livecodebench: {e.livecodebench!r} is not a LiveCodeBench model")
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




Ability = tuple[float, float]  # (ability on the common scale, its sd), logits


def catalog_abilities(e: MapEntry, mapping: ModelMap, g: Gathered, fit: irt.Fit, swe_b: np.ndarray,
                      aider: dict[str, float], cal: dict[str, float]) -> tuple[list[Ability], str]:
    """A catalog model's ability on every source (in `g.sources` order) and a sentence on
    how it is known. A source the model (or its stand-in) was not seen on gets the
    precision-weighted mean of the sources it was, with `transfer_sd` more spread."""
    own: dict[str, Ability] = {}
    if e.prior is None:
        extra = (e.proxy_sd or mapping.proxy_sd) if e.evidence == "proxy" else 0.0
        for src, name in e.names().items():
            k = g.nodes[f"{src}:{name}"]
            own[src] = (float(fit.theta[k]), math.hypot(float(fit.theta_se[k]), extra))
        basis = "; ".join(f"{s} {n!r} ({own[s][0]:+.2f} +/- {own[s][1]:.2f})" for s, n in e.names().items())
        basis = f"{e.evidence} via {basis}" + (f", stand-in spread {extra:g}" if extra else "")
    else:
        p = e.prior
        if p.board == "swebench_listed":
            k = g.nodes[f"swebench:{p.name}"]
            own["swebench"] = (float(fit.theta[k]), float(fit.theta_se[k]))
            basis = f"SWE-bench bash-only listed rate of {p.name!r} (aggregate, fitted as {own['swebench'][0]:+.2f})"
        else:
            if p.board == "aider_polyglot":
                assert p.name is not None
                rate = _sigmoid(cal["a"] + cal["b"] * _logit(aider[p.name]))
                var = rate * (1 - rate) * cal["residual_sd_logit"] ** 2
                weight = min(max(1 / var if var > 0 else MAX_PRIOR_WEIGHT, MIN_PRIOR_WEIGHT), MAX_PRIOR_WEIGHT)
                basis = (f"Aider polyglot {p.name!r} {100 * aider[p.name]:.1f}% mapped to SWE-bench bash-only "
                         f"{100 * rate:.1f}% (logit calibration in provenance), worth {weight:.0f} observations")
            else:
                assert p.rate is not None and p.weight is not None
                rate, weight = p.rate, p.weight
                basis = f"stated assumption: SWE-bench rate {rate:.2f} worth {weight:g} observations"
            theta = irt.ability_for_rate(rate, swe_b, 1.0)
            pk = irt.success(theta, swe_b, 1.0)
            own["swebench"] = (theta, float(1 / math.sqrt(weight * float(np.mean(pk * (1 - pk))) + 1e-9)))
    prec = {s: 1 / sd**2 for s, (_, sd) in own.items()}
    general = sum(own[s][0] * w for s, w in prec.items()) / sum(prec.values())
    general_sd = math.hypot(1 / math.sqrt(sum(prec.values())), mapping.transfer_sd)
    return [own.get(s, (general, general_sd)) for s in g.sources], basis


def build_production(
    root: Path,
    labels: Path,
    mapping: ModelMap,
    route_keys: Sequence[str],
    levels: Sequence[str],
    *,
    catalog_ids: Sequence[str],
    provenance: dict[str, Any],
    own: OwnEvidence | None = None,
) -> tuple[AccuracyTable, Gathered]:
    """The production table for `catalog_ids` (in catalog order) from the success model;
    `own`: the operator's own-suite outcomes and feedback, folded into the abilities
    (`training.own_evidence`)."""
    g = gather(root, labels)
    listed = {r["name"]: float(r["resolved"]) / 100 for r in swebench_board(root)}
    aider = aider_polyglot(root)
    swe_models = [k.split(":", 1)[1] for k in g.nodes if k.startswith("swebench:")]
    lcb_models = [k.split(":", 1)[1] for k in g.nodes if k.startswith("livecodebench:")]
    check_names(mapping, swe_models, listed, aider, livecodebench=lcb_models)
    try:
        link_text = apply_links(g, list(mapping.links))
    except ValueError as exc:
        raise ConfigError([f"{MAP_FILE}: {exc}"]) from exc
    reach = connected(g)
    fit = irt.fit(evidence(g), reference_source=g.sources.index(REFERENCE))
    pool = pools(g, fit)
    swe_b = fit.b[np.array(g.item_source) == g.sources.index(REFERENCE)]
    cal = fit_calibration([(aider[p.aider], listed[p.swebench]) for p in mapping.calibration])
    cells = [cell_key(rk, d) for rk in route_keys for d in levels]
    n_src = len(g.sources)
    difficulty = {c: pool.difficulty(c, n_src) for c in cells}

    models: dict[str, ModelEntry] = {}
    for model_id in catalog_ids:
        e = mapping.models[model_id]
        abilities, basis = catalog_abilities(e, mapping, g, fit, swe_b, aider, cal)
        evidence_kind, extra = e.evidence, {}
        observed = own.by_model.get(model_id) if own else None
        if observed:
            abilities, extra = updated_abilities(abilities, g.sources.index(REFERENCE), observed, difficulty,
                                                 own.max_feedback_shift if own else None)
            counts = {o: sum(v["n"] for v in extra[o].values()) for o in ("own_suite", "feedback") if o in extra}
            basis += "; then updated by the operator's own evidence (" + ", ".join(
                f"{n} {o.replace('_', ' ')} outcome(s)" for o, n in counts.items()) + ")"
            if "own_suite" in extra:
                evidence_kind = "measured"
        point = [a for a, _ in abilities]
        low = [a - Z * sd for a, sd in abilities]
        out_cells = {}
        for c in cells:
            acc, n = pool.success(point, c)
            out_cells[c] = Cell(accuracy=acc, n=n, lower=pool.success(low, c)[0], shrunk=n < CELL_PRIOR_ITEMS)
        overall_acc = float(np.mean([v.accuracy for v in out_cells.values()]))
        overall_low = float(np.mean([v.lower for v in out_cells.values()]))
        n_items = sum(v.n for v in out_cells.values())
        label = "measured (own suite)" if evidence_kind != e.evidence else e.evidence
        note = (f"{label}: {e.rationale.strip()} Ability: {basis}. Cells: mean success of the ability over "
                "each cell's item pool (see provenance.success_model); lower = at ability - 1.645 sd.")
        measured_as = tuple(e.names().values()) or ((e.prior.name,) if e.prior and e.prior.name else ())
        models[model_id] = ModelEntry(
            evidence=evidence_kind, measured_as=measured_as, note=note,
            overall=Cell(accuracy=overall_acc, n=n_items, lower=overall_low), cells=out_cells, own_evidence=extra,
        )
    inv: dict[int, list[str]] = {}
    for name, k in g.nodes.items():
        inv.setdefault(k, []).append(name)
    provenance = {
        **provenance,
        "success_model": {
            "model": "Rasch (1PL) item response model, P = sigmoid(ability - difficulty), one logit scale; "
                     "SWE-bench items centred at 0; MAP fit (training/irt.py)",
            "sources": g.counts,
            "links": link_text,
            "connected_to_swebench": sorted(n for k in reach for n in inv[k]) == sorted(g.nodes),
            "fit": {"converged": fit.converged, "iterations": fit.iterations, "neg_log_posterior": fit.nll},
            "source_mean_difficulty": {s: float(fit.mu[i]) for i, s in enumerate(g.sources)},
            "level_pools": {d: {g.sources[s]: {"items": len(b), "median_difficulty": float(np.median(b))}
                                for s, b, _ in parts} for d, parts in pool.by_level.items()},
            "cell_prior_items": CELL_PRIOR_ITEMS,
            "abilities": {" = ".join(inv[k]): [float(fit.theta[k]), float(fit.theta_se[k])]
                          for k in np.argsort(-fit.theta)},
            "exclusions": g.exclusions,
        },
        **({"own_evidence_notes": own.notes} if own else {}),
        "aider_to_swebench_calibration": {k: round(v, 4) if isinstance(v, float) else v for k, v in cal.items()},
    }
    table = AccuracyTable(bound=BOUND_TEXT, cells=tuple(cells), provenance=provenance, models=models,
                          difficulty=difficulty)
    return table, g
