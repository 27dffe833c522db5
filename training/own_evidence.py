"""The operator's own evidence about a model, folded into the success model's abilities.

Two kinds, both outcomes in production cells (route key|difficulty):
- own-suite outcomes: `autotier accuracy eval` graded the model on the shipped
  per-route-key suite (`data/accuracy/own_suite/<model>.jsonl`);
- feedback: signals the gateway stored beside its decision records (`feedback` joined
  with `usage` in the ledger): explicit ratings, accepted/reverted, solved, and the
  implicit retried / switched model / error / empty answer. One request counts once: its
  explicit signals if it has any, else its implicit ones (their mean success).

Each outcome is read as one item of its cell, placed at the cell's difficulty on the
common scale (`AccuracyTable.difficulty`: the ability that succeeds half the time there),
slope 1. The model's ability on the reference scale is its public ability (a normal prior:
the table's fitted mean, and its sd but at least SERVED_MODEL_SD, since the served model
may differ from the measured one) updated by those outcomes (MAP, Laplace sd); the update
shifts the model's ability on every source by the same amount and narrows its spreads
by the same factor. So a model known only from a prior moves a lot, a well-measured one
little, and bad feedback on a cheap model lowers its cells until the efficient tier stops
choosing it. Feedback can be weighted below graded outcomes (`--feedback-weight`): a
thumbs-down is a noisier failure than a failed unit test.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import expit

from router.accuracy import CELL_SEPARATOR

LEVELS = ("low", "medium", "high")
# The model an operator serves may differ from the one public evidence measured (provider,
# quantisation, version, prompt format): own evidence moves the ability as if its prior
# were at least this wide (logits). The spread itself never widens.
SERVED_MODEL_SD = 0.5


@dataclass(frozen=True, slots=True)
class Observation:
    cell: str  # route_key|difficulty
    y: float  # success in [0, 1]
    weight: float
    origin: str  # own_suite | feedback


@dataclass
class OwnEvidence:
    """Observations per catalog model, and where they came from (for the provenance)."""

    by_model: dict[str, list[Observation]]
    files: list[Path]
    notes: list[str]
    max_feedback_shift: float | None = None  # logits feedback may move an ability in one build


def read_own_suite(folder: Path, catalog_ids: Iterable[str], cells: Iterable[str],
                   current: set[tuple[str, str]] | None = None) -> OwnEvidence:
    """Every outcome file in `folder` (latest outcome per model and case). `current`: the
    suite's (case id, case hash) pairs; an outcome of a case since edited or removed does not
    count. Outcomes graded against the mock upstream never count."""
    from training.evalsuite.runner import read_outcomes

    ids, known = set(catalog_ids), set(cells)
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    files, notes = [], []
    for path in sorted(folder.glob("*.jsonl")) if folder.is_dir() else []:
        files.append(path)
        for row in read_outcomes(path):
            if isinstance(row.get("model"), str) and isinstance(row.get("case"), str):
                latest[(row["model"], row["case"])] = row
    by_model: dict[str, list[Observation]] = defaultdict(list)
    skipped: dict[str, Counter[str]] = defaultdict(Counter)
    for (model, case), row in sorted(latest.items()):
        cell = f"{row.get('route_key')}{CELL_SEPARATOR}{row.get('difficulty')}"
        why = ("not a catalog model" if model not in ids else "not a table cell" if cell not in known
               else "graded against the mock upstream" if str(row.get("litellm_model", "")).startswith("mock:")
               else "its case changed or left the suite" if current is not None
               and (case, row.get("case_hash")) not in current else None)
        if why:
            skipped[model][why] += 1
            continue
        by_model[model].append(Observation(cell, 1.0 if row.get("passed") else 0.0, 1.0, "own_suite"))
    notes += [f"own suite: {n} outcome(s) of {m!r} skipped: {why}"
              for m, reasons in sorted(skipped.items()) for why, n in sorted(reasons.items())]
    return OwnEvidence(dict(by_model), files, notes)


def read_feedback(location: str, catalog_ids: Iterable[str], cells: Iterable[str], weight: float,
                  per_account: float = 5.0, min_accounts: int = 3, max_shift: float = 1.0) -> OwnEvidence:
    """The ledger's feedback on requests whose decision record has a route key and difficulty.
    Bounded against a hostile key (anonymous callers count as one account): one account weighs
    at most `per_account` requests per model (past that its requests share that weight); a
    model's feedback counts only once `min_accounts` accounts gave some; and feedback moves a
    model's ability by at most `max_shift` logits per build (`updated_abilities`)."""
    from router.gateway.accounts import Ledger

    ids, known = set(catalog_ids), set(cells)
    ledger = Ledger.existing(location)  # a mistyped path must not create an empty ledger
    try:
        rows = ledger.feedback_rows()
    finally:
        ledger.close()
    per_request: dict[tuple[Any, str], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    cell_of: dict[tuple[Any, str], str | None] = {}
    account_of: dict[tuple[Any, str], Any] = {}
    for r in rows:
        key = (r["usage_id"], r["model"])
        per_request[key][r["origin"]].append(float(r["success"]))
        rk, lvl = r.get("route_key"), r.get("difficulty")
        cell_of[key] = f"{rk}{CELL_SEPARATOR}{lvl}" if rk and lvl else None
        account_of[key] = r.get("account_id")
    placed = [k for k in per_request if cell_of[k] in known and k[1] in ids]
    accounts = {m: len({account_of[k] for k in placed if k[1] == m}) for m in {k[1] for k in placed}}
    few = sorted(m for m, n in accounts.items() if n < min_accounts)
    used = [k for k in placed if accounts[k[1]] >= min_accounts]
    counts = Counter((account_of[k], k[1]) for k in used)
    by_model: dict[str, list[Observation]] = defaultdict(list)
    for key in used:
        origins = per_request[key]
        signals = origins.get("explicit") or origins["implicit"]
        share = min(1.0, per_account / counts[(account_of[key], key[1])])
        by_model[key[1]].append(Observation(str(cell_of[key]), float(np.mean(signals)), weight * share, "feedback"))
    capped = sorted(f"{'anonymous' if a is None else f'account {a}'} on {m} ({n} requests)"
                    for (a, m), n in counts.items() if n > per_account)
    notes = [f"feedback: {len(per_request)} request(s) with signals; {len(per_request) - len(placed)} not used (no "
             "route key and difficulty in their decision record, i.e. not decided by the efficient tier, or not a "
             "catalog model)"]
    if few:
        notes.append(f"feedback: not used for {', '.join(f'{m} ({accounts[m]} account(s))' for m in few)}: "
                     f"fewer than {min_accounts} accounts gave feedback (--feedback-min-accounts)")
    if capped:
        notes.append(f"feedback: weighed as {per_account:g} requests each (--feedback-per-account): "
                     + "; ".join(capped))
    return OwnEvidence(dict(by_model), [], notes, max_shift)


def merge(*parts: OwnEvidence) -> OwnEvidence:
    by_model: dict[str, list[Observation]] = defaultdict(list)
    for part in parts:
        for model, obs in part.by_model.items():
            by_model[model] += obs
    shifts = [p.max_feedback_shift for p in parts if p.max_feedback_shift is not None]
    return OwnEvidence(dict(by_model), [f for p in parts for f in p.files], [n for p in parts for n in p.notes],
                       min(shifts) if shifts else None)


def update_ability(mean: float, sd: float, b: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """MAP ability under a N(mean, sd^2) prior and weighted Rasch outcomes `y` on items of
    difficulty `b` (Newton), with its Laplace sd."""
    theta = mean
    for _ in range(100):
        p = expit(theta - b)
        grad = float(np.sum(w * (y - p))) - (theta - mean) / sd**2
        info = float(np.sum(w * p * (1 - p))) + 1 / sd**2
        step = grad / info
        theta += max(min(step, 2.0), -2.0)
        if abs(step) < 1e-9:
            break
    p = expit(theta - b)
    return theta, 1 / math.sqrt(float(np.sum(w * p * (1 - p))) + 1 / sd**2)


def updated_abilities(abilities: Sequence[tuple[float, float]], reference: int, obs: Sequence[Observation],
                      difficulty: dict[str, float], max_feedback_shift: float | None = None
                      ) -> tuple[list[tuple[float, float]], dict[str, Any]]:
    """`abilities` (per source) moved by the update of the reference ability; and the
    evidence summary the table shows: per origin and level, n, observed success and the
    expected success before and after. What feedback adds to the own-suite update is
    clamped to +/- `max_feedback_shift` logits."""
    mean, sd = abilities[reference]
    b = np.array([difficulty[o.cell] for o in obs])
    y = np.array([o.y for o in obs])
    w = np.array([o.weight for o in obs])
    prior = max(sd, SERVED_MODEL_SD)
    post, post_sd = update_ability(mean, prior, b, y, w)
    post_sd = min(post_sd, sd)
    summary: dict[str, Any] = {}
    suite = np.array([o.origin == "own_suite" for o in obs])
    if max_feedback_shift is not None and not suite.all():
        base = update_ability(mean, prior, b[suite], y[suite], w[suite])[0]
        clamped = base + max(-max_feedback_shift, min(max_feedback_shift, post - base))
        if clamped != post:
            summary["feedback_shift_clamped"] = [post - base, clamped - base]
        post = clamped
    moved = [(a + post - mean, s * post_sd / sd) for a, s in abilities]
    summary["ability"] = {"before": [mean, sd], "after": [post, post_sd]}
    for origin in sorted({o.origin for o in obs}):
        levels = {}
        for level in LEVELS:
            pick = [i for i, o in enumerate(obs) if o.origin == origin and o.cell.endswith(CELL_SEPARATOR + level)]
            if pick:
                levels[level] = {
                    "n": len(pick), "weight": float(w[pick].sum()), "observed": float(y[pick].mean()),
                    "expected_before": float(expit(mean - b[pick]).mean()),
                    "expected_after": float(expit(post - b[pick]).mean()),
                }
        summary[origin] = levels
    return moved, summary
