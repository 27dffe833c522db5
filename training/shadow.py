"""`autotier shadow`: replay logged efficient-tier requests through a candidate classifier
and/or accuracy table and through the champion, and report what would change.

autotier shadow [--candidate RUN_OR_PATH] [--tables PATH] [--db DB_OR_URL] [--since DAYS]
                [--limit N] [--json OUT] [--no-track]

Each usage row the efficient tier decided (ledger `decided_by = 'efficient'`) becomes a
`RoutingRequest` (its tier, API, mode and prompt tokens; no session history) and goes
through the pure `route()` twice: with the champion (shipped classifier, shipped tables)
and with the candidate. The classification comes from each side's classifier on the
captured text (training/from_ledger.py `capture_request`); a request without a capture
replays only for a tables-only candidate, with the logged route key and difficulty. Cost
and expected success are the decision's own (`details.candidates`, as
router/gateway/decision_record.py reads them). Because a candidate table could simply
rate its own picks higher, each candidate choice is also scored with the champion's evidence
(the champion's table under the champion classifier's classification):
`candidate_expected_success_by_champion` and `success_delta_by_champion`, which the
promotion gate (`--require-shadow`) uses. Rows are grouped by tier and by the champion's
route key.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from router.accuracy import load_accuracy_table
from router.config import RouterConfig, default_data_dir, load_config
from router.contract import ApiKind, RoutingDecision, RoutingRequest
from router.core import RouterState, route
from router.errors import AutotierError
from router.strategies import score_candidates
from router.tiers import EfficientTier
from training.accuracy_tables import sha256_of
from training.from_ledger import capture_request
from training.shadow_report import EXPERIMENT, format_report, log_report

DEFAULT_DB = "autotier.db"
TOP_MOVES = 10
_RUN_ID = re.compile(r"^[0-9a-f]{32}$")


class ShadowError(Exception):
    """Nothing to replay, or a candidate that cannot be loaded; `code` names which."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def classifier_location(spec: str) -> str:
    """An MLflow run id -> its logged artefact (`runs:/<id>/classifier`, as
    training/tracking.py logs it); URIs and folders as `autotier route --classifier` takes them."""
    return f"runs:/{spec}/classifier" if _RUN_ID.match(spec) and not Path(spec).exists() else spec


def candidate_config(config: RouterConfig, tables: Path | None) -> RouterConfig:
    """`config` with every efficient tier's accuracy table replaced by the one at `tables`;
    raises ShadowError when it is unreadable or misses a tier's candidate."""
    if tables is None:
        return config
    try:
        table = load_accuracy_table(Path(tables))
    except AutotierError as exc:
        raise ShadowError("tables_invalid", f"{tables}: {exc}") from None
    accuracy = dict(config.accuracy)
    for name, tier in config.tiers.tiers.items():
        if isinstance(tier, EfficientTier):
            missing = [m for m in tier.candidates if m not in table.models]
            if missing:
                raise ShadowError("tables_invalid", f"{tables}: no entry for tier {name}'s candidates {missing}")
            accuracy[tier.table] = table
    return dataclasses.replace(config, accuracy=accuracy)


def logged_requests(location: str, config: RouterConfig, since_days: float | None = None,
                    limit: int | None = None) -> list[dict[str, Any]]:
    """The latest efficient-tier usage rows (oldest first), each with its unexpired capture
    (text, context, capture_mode, prompt_tokens; None without one)."""
    from router.gateway.accounts import Ledger
    from router.gateway.database import LedgerUnavailable, is_database_url

    if not is_database_url(location) and not Path(location).is_file():
        raise ShadowError("no_ledger", f"no ledger at {location} (a SQLite file or a postgresql:// URL; --db)")
    efficient = [n for n, t in config.tiers.tiers.items() if isinstance(t, EfficientTier)]
    now = time.time()
    since = now - since_days * 86_400 if since_days is not None else 0.0
    sql = ("SELECT u.id AS usage_id, u.time, u.api, u.tier, u.mode, u.tokens_in, u.route_key, u.difficulty,"
           " u.confidence, c.id AS capture_id, c.text, c.context, c.mode AS capture_mode, c.prompt_tokens"
           " FROM usage u LEFT JOIN captures c ON c.usage_id = u.id AND c.expires > ?"
           " WHERE u.time >= ? AND (u.decided_by = 'efficient'" + _undecided_clause(len(efficient))
           + ") ORDER BY u.id DESC")
    params: tuple[Any, ...] = (now, since, *efficient)
    if limit is not None:
        sql, params = sql + " LIMIT ?", (*params, int(limit))
    try:
        ledger = Ledger(location)
    except LedgerUnavailable as exc:
        raise ShadowError("no_ledger", str(exc)) from None
    try:
        rows = ledger.run(lambda tx: tx.dicts(sql, params))
    finally:
        ledger.close()
    seen: set[Any] = set()
    out = []
    for row in reversed(rows):
        if row["usage_id"] not in seen:  # one capture per usage row
            seen.add(row["usage_id"])
            out.append(row)
    return out


def _undecided_clause(n_tiers: int) -> str:
    """Rows logged before `decided_by` existed count by their tier; `IN ()` is a syntax error
    in PostgreSQL, so no clause without an efficient tier."""
    return f" OR (u.decided_by IS NULL AND u.tier IN ({', '.join('?' * n_tiers)}))" if n_tiers else ""


def _logged_classification(row: dict[str, Any]) -> dict[str, Any] | None:
    if not (row.get("route_key") and row.get("difficulty")):
        return None
    return {"route_key": row["route_key"], "difficulty": row["difficulty"], "confidence": row.get("confidence"),
            "route_probs": {row["route_key"]: 1.0}, "difficulty_probs": {row["difficulty"]: 1.0}}


def _routing_request(row: dict[str, Any], config: RouterConfig, classification: Any) -> RoutingRequest:
    try:
        api = ApiKind(row.get("api") or "chat")
    except ValueError:
        api = ApiKind.CHAT
    tokens = row.get("prompt_tokens") or row.get("tokens_in") or None
    return RoutingRequest(
        requested_model=config.tiers.spellings[0].format(tier=row["tier"]), api_kind=api,
        mode=row.get("mode") or row.get("capture_mode"), estimated_prompt_tokens=int(tokens) if tokens else None,
        previous_model=None, classification=classification,
    )


@dataclass(frozen=True)
class Outcome:
    model: str
    expected_success: float | None
    cost_usd: float | None


def outcome(decision: RoutingDecision) -> Outcome:
    """The served model with its expected success and estimated cost from the decision."""
    scored = (decision.details or {}).get("candidates") or []
    entry = next((c for c in scored if c.get("model") == decision.model), scored[0] if scored else {})
    success, cost = entry.get("expected_accuracy"), entry.get("cost_usd")
    return Outcome(decision.model, None if success is None else float(success), None if cost is None else float(cost))


@dataclass(frozen=True)
class Replay:
    usage_id: int
    tier: str
    route_key: str
    champion: Outcome
    candidate: Outcome
    candidate_by_champion: float | None = None  # the candidate's choice, champion's table and classification


def replay(rows: list[dict[str, Any]], champion_clf: Any, candidate_clf: Any, champion_cfg: RouterConfig,
           candidate_cfg: RouterConfig) -> tuple[list[Replay], Counter[str]]:
    """Route every row with both sides; `candidate_clf` None: the candidate shares the
    champion's classifier (a tables-only candidate). Returns the replays and skip reasons."""
    skipped: Counter[str] = Counter()
    efficient = {n for n, t in champion_cfg.tiers.tiers.items() if isinstance(t, EfficientTier)}
    captured = [r for r in rows if r.get("text")]
    requests = [capture_request(r["text"], r.get("context"), r.get("mode") or r.get("capture_mode"))
                for r in captured]
    preds: dict[str, dict[Any, Any]] = {"champion": {}, "candidate": {}}
    for side, clf in (("champion", champion_clf), ("candidate", candidate_clf)):
        if clf is not None and requests:
            preds[side] = dict(zip((r["usage_id"] for r in captured), _predict_all(clf, requests), strict=True))
    out: list[Replay] = []
    for row in rows:
        if row.get("tier") not in efficient:
            skipped["tier not efficient in the current tiers.yaml"] += 1
            continue
        uid = row["usage_id"]
        if uid in preds["champion"]:
            champ_cls = preds["champion"][uid]
            cand_cls = preds["candidate"].get(uid, champ_cls) if candidate_clf is not None else champ_cls
        elif candidate_clf is not None:
            skipped["no capture (a candidate classifier needs the text)"] += 1
            continue
        else:
            champ_cls = cand_cls = _logged_classification(row)
        try:
            champ = route(_routing_request(row, champion_cfg, champ_cls), RouterState(champion_cfg))
            cand = route(_routing_request(row, candidate_cfg, cand_cls), RouterState(candidate_cfg))
        except AutotierError as exc:
            skipped[f"route() refused: {exc.__class__.__name__}"] += 1
            continue
        key = _route_key(champ_cls) or row.get("route_key") or "(unclassified)"
        by_champion = champion_success(champion_cfg, row["tier"], champ_cls, cand.model)
        out.append(Replay(uid, row["tier"], key, outcome(champ), outcome(cand), by_champion))
    return out, skipped


def champion_success(config: RouterConfig, tier: str, classification: Any, model: str) -> float | None:
    """The expected success the champion's evidence gives `model` on this request (as
    the efficient strategy scores it); None for a model its table does not list."""
    spec = config.tiers.tiers.get(tier)
    if not isinstance(spec, EfficientTier) or model not in config.accuracy[spec.table].models:
        return None
    return round(score_candidates(spec, config, (model,), classification, None).scored[0].accuracy, 4)


def _predict_all(clf: Any, requests: list[dict[str, Any]]) -> list[Any]:
    """Predictions in one batch; one by one (None where there is no user text) when a
    request in the batch cannot be classified."""
    from classifier import RequestError

    try:
        return clf.predict_many(requests)
    except RequestError:
        out = []
        for request in requests:
            try:
                out.append(clf.predict(request))
            except RequestError:
                out.append(None)
        return out


def _route_key(prediction: Any) -> str | None:
    if prediction is None:
        return None
    return prediction.get("route_key") if isinstance(prediction, dict) else prediction.route_key


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def _delta(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else b - a


def summarise(replays: list[Replay]) -> dict[str, Any]:
    """n, changed share, mean cost and expected success per side with deltas
    (candidate - champion; the candidate's choices also under the champion's evidence),
    and the top model moves."""
    changed = [r for r in replays if r.champion.model != r.candidate.model]
    cost_a, cost_b = _mean([r.champion.cost_usd for r in replays]), _mean([r.candidate.cost_usd for r in replays])
    ok_a = _mean([r.champion.expected_success for r in replays])
    ok_b = _mean([r.candidate.expected_success for r in replays])
    ok_c = _mean([r.candidate_by_champion for r in replays])
    moves = Counter((r.champion.model, r.candidate.model) for r in changed)
    return {
        "n": len(replays), "changed": len(changed), "changed_share": len(changed) / len(replays) if replays else 0.0,
        "champion_cost_usd": cost_a, "candidate_cost_usd": cost_b, "cost_delta_usd": _delta(cost_a, cost_b),
        "champion_expected_success": ok_a, "candidate_expected_success": ok_b, "success_delta": _delta(ok_a, ok_b),
        "candidate_expected_success_by_champion": ok_c, "success_delta_by_champion": _delta(ok_a, ok_c),
        "moves": [{"from": a, "to": b, "n": n} for (a, b), n in moves.most_common(TOP_MOVES)],
    }


def build_report(replays: list[Replay], skipped: Counter[str], meta: dict[str, Any]) -> dict[str, Any]:
    by_tier: dict[str, list[Replay]] = defaultdict(list)
    by_key: dict[str, list[Replay]] = defaultdict(list)
    for r in replays:
        by_tier[r.tier].append(r)
        by_key[r.route_key].append(r)
    return {
        **meta, "n": len(replays), "skipped": dict(skipped), "overall": summarise(replays),
        "per_tier": {t: summarise(rs) for t, rs in sorted(by_tier.items())},
        "per_route_key": {k: summarise(rs) for k, rs in sorted(by_key.items())},
    }


def shadow(candidate: str | None, tables: Path | None, db: str, since_days: float | None = None,
           limit: int | None = None, data_dir: Path | None = None) -> dict[str, Any]:
    """The shadow report (see the module docstring); raises ShadowError."""
    from classifier import ArtefactError, load

    config = load_config(data_dir)
    cand_cfg = candidate_config(config, tables)
    rows = logged_requests(db, config, since_days, limit)
    if not rows:
        window = f" in the last {since_days:g} day(s)" if since_days is not None else ""
        raise ShadowError("nothing_to_replay", f"no efficient-tier requests in the ledger at {db}{window}")
    location = classifier_location(candidate) if candidate else None
    if location and location.startswith(("runs:/", "models:/")):
        import mlflow

        from training.tracking import tracking_uri

        mlflow.set_tracking_uri(tracking_uri())  # the store `autotier train` logs to
    try:
        champion_clf = load(None)
        candidate_clf = load(location) if location else None
    except ArtefactError as exc:
        raise ShadowError("candidate_unloadable", str(exc)) from None
    replays, skipped = replay(rows, champion_clf, candidate_clf, config, cand_cfg)
    if not replays:
        raise ShadowError("nothing_to_replay", f"none of the {len(rows)} logged efficient-tier request(s) could be "
                          f"replayed ({dict(skipped)})")
    shipped_tables = sorted({t.table for t in config.tiers.tiers.values() if isinstance(t, EfficientTier)})
    data = data_dir or default_data_dir()
    run_id = candidate if candidate and _RUN_ID.match(candidate) else None
    meta = {
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "candidate": {"spec": candidate or (str(tables) if tables else "champion"),
                      "classifier": location or "shipped", "run_id": run_id,
                      "dataset_sha256": getattr(candidate_clf, "manifest", {}).get("dataset_sha256"),
                      "tables": str(tables) if tables else "shipped",
                      "tables_sha256": sha256_of(Path(tables)) if tables else None},
        "champion": {"classifier": "shipped", "tables": [str(data / t) for t in shipped_tables]},
        "ledger": _shown_db(db), "since_days": since_days, "limit": limit,
    }
    return build_report(replays, skipped, meta)


def _shown_db(db: str) -> str:
    from router.gateway.database import is_database_url, redacted_url

    return redacted_url(db) if is_database_url(db) else db


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="autotier shadow", description=(
        "Replay logged efficient-tier requests through a candidate classifier and/or accuracy "
        "table and through the champion; report what changes."))
    ap.add_argument("--candidate", metavar="RUN_OR_PATH", help="classifier artefact folder, models:/ or runs:/ "
                    "URI, or MLflow run id (default: the shipped classifier)")
    ap.add_argument("--tables", type=Path, metavar="PATH", help="candidate accuracy table (default: the shipped "
                    "data/accuracy/production.json)")
    ap.add_argument("--db", default=None, metavar="DB_OR_URL",
                    help="ledger: SQLite file or postgresql:// URL (default $AUTOTIER_DATABASE_URL, "
                    f"$AUTOTIER_DB, else {DEFAULT_DB})")
    ap.add_argument("--since", type=float, metavar="DAYS", help="only requests of the last DAYS days")
    ap.add_argument("--limit", type=int, metavar="N", help="only the latest N requests")
    ap.add_argument("--json", type=Path, metavar="OUT", help="write the report as JSON here")
    ap.add_argument("--no-track", action="store_true", help="do not log to MLflow")
    ap.add_argument("--data-dir", type=Path, default=None, help="routing data folder (default: data/)")
    return ap


def main(argv: list[str] | None = None) -> int:
    import os

    args = build_parser().parse_args(argv)
    db = args.db or os.environ.get("AUTOTIER_DATABASE_URL") or os.environ.get("AUTOTIER_DB") or DEFAULT_DB
    try:
        report = shadow(args.candidate, args.tables, db, args.since, args.limit, args.data_dir)
    except ShadowError as exc:
        print(f"autotier shadow: {exc.code}: {exc}", file=sys.stderr)
        return 2
    print(format_report(report))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"report: {args.json}")
    if not args.no_track:
        print(f"mlflow: run {log_report(report, args.json)} (experiment {EXPERIMENT})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
