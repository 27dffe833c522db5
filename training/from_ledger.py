"""Reviewed gateway traffic as training rows: `autotier train --from-ledger DB_OR_URL`.

The gateway's opt-in captures (router/gateway/capture.py: the user's latest text as the
classifier saw it, redacted) are copied into a review file, one JSON object a line:

    {"id": "ledger:<capture id>", "text": ..., "context": ..., "mode": ...,
     "n_tool_results": ..., "predicted_route_key": ..., "predicted_difficulty": ...,
     "route_key": ..., "difficulty": ..., "reviewed": false, "captured": "<iso time>"}

The prediction is the one the gateway stored with the capture, else the shipped (champion)
classifier's on the text; `route_key` / `difficulty` start as the prediction. A reviewer
corrects them and sets `"reviewed": true`. Syncing again keeps every existing line as it is
and appends only captures not yet in the file.

Reviewed rows with valid labels enter training as hand-labelled rows of source `ledger`
(training/dataset.py); they are never validation rows, since their labels start as the
champion's predictions and would favour it in the promotion gate.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from classifier.taxonomy import Taxonomy
from training.dataset import Example, json_objects

SOURCE = "ledger"
REVIEW_FILE = "ledger_review.jsonl"
ID_PREFIX = f"{SOURCE}:"


class LedgerReadError(Exception):
    """The ledger cannot be read (missing file, unreachable database)."""

    code = "ledger_unreadable"


def capture_request(text: str, context: str | None = None, mode: str | None = None) -> dict[str, Any]:
    """The request a captured text stands for, shaped as the other labelled rows are
    (training/sources.py `request_of`): a one-turn prompt, or the session's first task then
    the latest text as two user turns; `mode` as the classifier reads it."""
    request: dict[str, Any]
    if context and context.strip() and context != text:
        request = {"messages": [{"role": "user", "content": context}, {"role": "user", "content": text}]}
    else:
        request = {"prompt": text}
    if mode:
        request["mode"] = mode
    return request


def read_captures(location: str, since: float | None = None, limit: int | None = None) -> list[dict[str, Any]]:
    """Unexpired captures of the ledger at `location` (a SQLite file or a postgresql:// URL),
    oldest first. Raises LedgerReadError when there is no such ledger."""
    from router.gateway.accounts import Ledger
    from router.gateway.database import LedgerUnavailable

    try:
        ledger = Ledger.existing(location)
    except LedgerUnavailable as exc:
        raise LedgerReadError(str(exc)) from None
    try:
        return ledger.captures(since=since, limit=limit)
    finally:
        ledger.close()


@dataclass(frozen=True)
class ReviewLine:
    where: str  # file:line
    record: dict[str, Any]


def _field_error(where: str, name: str, why: str) -> str:
    return f"{where}: field {name!r}: {why}"


def read_review(path: Path, errors: list[str]) -> list[ReviewLine]:
    """Every well-formed line of a review file; problems go to `errors` as
    "file:line: field 'name': reason" (labels are checked by `review_examples`)."""
    out: list[ReviewLine] = []
    seen: dict[str, str] = {}
    for where, rec in json_objects(path, errors):
        problems = []
        rid = rec.get("id")
        if not isinstance(rid, str) or not rid.startswith(ID_PREFIX) or rid == ID_PREFIX:
            problems.append(_field_error(where, "id", f"must be a string 'ledger:<capture id>', got {rid!r}"))
        elif rid in seen:
            problems.append(_field_error(where, "id", f"{rid!r} repeats {seen[rid]}"))
        if not isinstance(rec.get("text"), str) or not rec["text"].strip():
            problems.append(_field_error(where, "text", "must be a non-empty string"))
        for name in ("context", "mode"):
            if rec.get(name) is not None and not isinstance(rec[name], str):
                problems.append(_field_error(where, name, f"must be a string or null, got {rec[name]!r}"))
        n_tools = rec.get("n_tool_results")
        if n_tools is not None and (not isinstance(n_tools, int) or isinstance(n_tools, bool) or n_tools < 0):
            problems.append(_field_error(where, "n_tool_results", f"must be a count or null, got {n_tools!r}"))
        if not isinstance(rec.get("reviewed"), bool):
            problems.append(_field_error(where, "reviewed", f"must be true or false, got {rec.get('reviewed')!r}"))
        if problems:
            errors.extend(problems)
            continue
        seen[rid] = where
        out.append(ReviewLine(where, rec))
    return out


def review_examples(path: Path, taxonomy: Taxonomy, errors: list[str]) -> list[Example]:
    """The reviewed rows of `path` as hand-labelled training examples of source `ledger`;
    a reviewed row whose labels are outside the taxonomy is an error (file:line: field)."""
    out: list[Example] = []
    for item in read_review(path, errors):
        rec = item.record
        if rec["reviewed"] is not True:
            continue
        where = item.where
        ok = True
        if rec.get("route_key") not in taxonomy.route_keys:
            errors.append(_field_error(where, "route_key", f"{rec.get('route_key')!r} is not in taxonomy.yaml"))
            ok = False
        if rec.get("difficulty") not in taxonomy.difficulty_names:
            errors.append(_field_error(
                where, "difficulty", f"{rec.get('difficulty')!r} must be one of {list(taxonomy.difficulty_names)}"))
            ok = False
        if ok:
            request = capture_request(rec["text"], rec.get("context"), rec.get("mode"))
            out.append(Example(SOURCE, rec["id"][len(ID_PREFIX):], request, rec["route_key"], rec["difficulty"],
                               "hand", "hand", where))
    return out


@dataclass(frozen=True)
class ReviewSummary:
    path: Path
    added: int
    total: int
    unreviewed: int

    def describe(self) -> str:
        wait = f"; {self.unreviewed} await review (set \"reviewed\": true in {self.path})" if self.unreviewed else ""
        return f"ledger review file {self.path}: {self.added} new capture(s) appended, {self.total} in all{wait}"


def review_status(path: Path) -> ReviewSummary:
    """Counts of an existing review file (raises DatasetError for unreadable lines)."""
    from training.dataset import DatasetError

    errors: list[str] = []
    lines = read_review(path, errors) if Path(path).exists() else []
    if errors:
        raise DatasetError(errors)
    return ReviewSummary(Path(path), 0, len(lines), sum(1 for x in lines if not x.record["reviewed"]))


def _iso(ts: Any) -> str | None:
    try:
        return datetime.fromtimestamp(float(ts), UTC).isoformat(timespec="seconds")
    except (TypeError, ValueError, OverflowError):
        return None


def _champion_predictor() -> Any:
    """predict(request) -> (route key, difficulty) with the shipped classifier, loaded on
    first use; (None, None) when the text holds nothing to classify."""
    state: dict[str, Any] = {}

    def predict(request: dict[str, Any]) -> tuple[str | None, str | None]:
        from classifier import RequestError, load

        if "clf" not in state:
            state["clf"] = load(None)
        try:
            p = state["clf"].predict(request)
        except RequestError:
            return None, None
        return p.route_key, p.difficulty

    return predict


def review_line(capture: dict[str, Any], predict: Any) -> dict[str, Any]:
    """The review-file record of one capture (its prediction, else `predict`'s)."""
    request = capture_request(capture["text"], capture.get("context"), capture.get("mode"))
    route_key, difficulty = capture.get("route_key"), capture.get("difficulty")
    if not (route_key and difficulty):
        route_key, difficulty = predict(request)
    return {
        "id": f"{ID_PREFIX}{capture['id']}",
        "text": capture["text"],
        "context": capture.get("context"),
        "mode": capture.get("mode"),
        "n_tool_results": capture.get("n_tool_results"),
        "predicted_route_key": route_key,
        "predicted_difficulty": difficulty,
        "route_key": route_key,
        "difficulty": difficulty,
        "reviewed": False,
        "captured": _iso(capture.get("time")),
    }


def sync_review(captures: list[dict[str, Any]], path: Path, predict: Any = None) -> ReviewSummary:
    """Append the captures not yet in the review file at `path` (created if missing);
    existing lines are never rewritten. Raises DatasetError when an existing line is
    unreadable (nothing is written then)."""
    from training.dataset import DatasetError

    path = Path(path)
    errors: list[str] = []
    existing = read_review(path, errors) if path.exists() else []
    if errors:
        raise DatasetError(errors)
    known = {x.record["id"] for x in existing}
    predict = predict or _champion_predictor()
    new = [review_line(c, predict) for c in captures
           if f"{ID_PREFIX}{c['id']}" not in known and isinstance(c.get("text"), str) and c["text"].strip()]
    if new:
        path.parent.mkdir(parents=True, exist_ok=True)
        needs_newline = path.exists() and path.stat().st_size > 0 and not path.read_bytes().endswith(b"\n")
        with path.open("a", encoding="utf-8") as fh:
            if needs_newline:
                fh.write("\n")
            for rec in new:
                fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    unreviewed = sum(1 for x in existing if not x.record["reviewed"]) + len(new)
    return ReviewSummary(path, len(new), len(existing) + len(new), unreviewed)
