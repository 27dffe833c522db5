"""Outcome feedback on proxied requests (docs/gateway.md, "Feedback"): what a client says
about a reply (`POST /v1/feedback`: rating, outcome, solved) and what the gateway sees for
itself (the same request retried, the model switched by hand, an upstream error, an empty
reply). One `feedback` row per (usage row, model, signal); retraining reads them with
`Ledger.feedback_rows()`.

Every reply carries its id (`x-autotier-response-id`, the usage row's `response_id`); a
client names the reply by that id, or by its session and turn."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from classifier.errors import RequestError
from classifier.session import Session, parse_request
from router.contract import ApiKind
from router.gateway.accounts import Ledger, UsageRow, stored_text
from router.gateway.capture import redact
from router.gateway.database import Transaction
from router.gateway.wire import bad_request

# Signal -> value -> success (1.0 good, 0.0 bad). `solved` arrives as a JSON boolean.
EXPLICIT: dict[str, dict[str, float]] = {
    "rating": {"up": 1.0, "down": 0.0},
    "outcome": {"accepted": 1.0, "reverted": 0.0},
    "solved": {"true": 1.0, "false": 0.0},
}
IMPLICIT = ("retried", "switched_model", "error", "empty")
MAX_NOTE = 500
MAX_TURN = 1_000_000
MAX_BODY_BYTES = 16 * 1024
_FIELDS = frozenset({"response_id", "session_id", "turn", "note", *EXPLICIT})
# The body's JSON schema, for /openapi.json (parse_feedback is what enforces it).
SCHEMA: dict[str, Any] = {
    "type": "object", "additionalProperties": False,
    "properties": {
        "response_id": {"type": "string", "description": "the reply's x-autotier-response-id"},
        "session_id": {"type": "string"},
        "turn": {"type": "integer", "description": "n-th request of the session from 1; -1: the latest"},
        "rating": {"enum": ["up", "down"]}, "outcome": {"enum": ["accepted", "reverted"]},
        "solved": {"type": "boolean"}, "note": {"type": "string", "description": f"kept to {MAX_NOTE} characters"},
    },
}


def new_response_id() -> str:
    """A gateway-made reply id, for replies without a provider id (errors, some streams)."""
    return "atr-" + secrets.token_hex(16)


def provider_response_id(api: ApiKind, item: dict[str, Any]) -> str | None:
    """The id a client sees in a reply (`item`: a whole payload) or in a stream's first
    event (`item`: that event), when it carries one."""
    found = item.get("id")
    if api is ApiKind.RESPONSES and isinstance(item.get("response"), dict):
        found = item["response"].get("id")
    elif api is ApiKind.MESSAGES and isinstance(item.get("message"), dict):
        found = item["message"].get("id")
    return found[:200] if isinstance(found, str) and found else None


def has_output(api: ApiKind, payload: dict[str, Any]) -> bool:
    """Whether a complete reply holds any text or tool call (else the `empty` signal)."""
    if api is ApiKind.CHAT:
        messages = [c.get("message") or {} for c in payload.get("choices") or () if isinstance(c, dict)]
        return any(m.get("content") or m.get("tool_calls") or m.get("function_call") for m in messages)
    if api is ApiKind.RESPONSES:
        for item in payload.get("output") or ():
            if not isinstance(item, dict):
                continue
            if item.get("type") != "message":
                return True  # a tool call (function_call, ...) or reasoning
            if any(isinstance(p, dict) and p.get("text") for p in item.get("content") or ()):
                return True
        return False
    return any(isinstance(b, dict) and (b.get("text") or b.get("type") == "tool_use")
               for b in payload.get("content") or ())


def session_of(body: dict[str, Any] | None) -> Session | None:
    """What the classifier reads of a request body; None when it has no user text."""
    if body is None:
        return None
    try:
        return parse_request(body)
    except RequestError:
        return None


def request_hash(caller: str, requested_model: str | None, session: Session) -> str:
    """sha256 of who asked, for which model, the latest user text and the agent steps taken
    on it: equal for a request sent again, different for the agent's next step on one task."""
    key = "\n".join((caller, requested_model or "", str(session.steps_since_user), session.latest_user))
    return hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()


# ---- storing one signal -------------------------------------------------------------------
def put_signal(tx: Transaction, usage_id: int, account_id: int | None, model: str, signal: str, value: str,
               origin: str, success: float, note: str | None = None) -> bool:
    """Store one signal, replacing an earlier one for the same (usage row, model, signal);
    returns False when the same value was there already (nothing changed)."""
    value, note = stored_text(value) or "", stored_text(note, MAX_NOTE)
    found = tx.execute("SELECT value, origin, success, note FROM feedback WHERE usage_id = ? AND model = ?"
                       " AND signal = ?", (usage_id, model, signal)).fetchone()
    if found is not None and (found[0], found[1], float(found[2]), found[3]) == (value, origin, success, note):
        return False
    tx.execute(
        "INSERT INTO feedback (time, usage_id, account_id, model, signal, value, origin, success, note)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (usage_id, model, signal) DO UPDATE SET"
        " time = excluded.time, value = excluded.value, origin = excluded.origin,"
        " success = excluded.success, note = excluded.note",
        (time.time(), usage_id, account_id, model, signal, value, origin, success, note))
    return True


# ---- explicit feedback ----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class FeedbackRequest:
    """A validated `POST /v1/feedback` body: which reply (`response_id`, or `session_id` and
    `turn`: the n-th proxied request of the session from 1, -1 the latest) and the signals."""

    response_id: str | None
    session_id: str | None
    turn: int | None
    signals: tuple[tuple[str, str], ...]
    note: str | None


def parse_feedback(body: Any) -> FeedbackRequest:
    """Check a feedback body; raises a 400 AutotierError naming the field."""
    if not isinstance(body, dict):
        raise bad_request(f"feedback body must be a JSON object, got {type(body).__name__}", "invalid_body")
    unknown = sorted(set(body) - _FIELDS)
    if unknown:
        raise bad_request(f"unknown field(s) {', '.join(map(repr, unknown))}; expected response_id or "
                          "session_id + turn, and rating, outcome, solved, note", "unknown_field")
    by_id, by_turn = "response_id" in body, "session_id" in body or "turn" in body
    if by_id == by_turn:
        raise bad_request("name the reply by exactly one of 'response_id' or 'session_id' + 'turn'",
                          "invalid_target")
    if by_id and (not isinstance(body["response_id"], str) or not body["response_id"]):
        raise bad_request("'response_id' must be a non-empty string", "invalid_type")
    turn = body.get("turn")
    if by_turn:
        if not isinstance(body.get("session_id"), str) or not body["session_id"]:
            raise bad_request("'session_id' must be a non-empty string", "invalid_type")
        if not isinstance(turn, int) or isinstance(turn, bool) or not (1 <= turn <= MAX_TURN or turn == -1):
            raise bad_request(f"'turn' must be an integer from 1 (the session's first request) to {MAX_TURN}, "
                              "or -1 for its latest", "invalid_type")
    signals = []
    for signal, values in EXPLICIT.items():
        if signal not in body:
            continue
        value = body[signal]
        if signal == "solved":
            if not isinstance(value, bool):
                raise bad_request("'solved' must be true or false", "invalid_type")
            value = "true" if value else "false"
        elif value not in values:
            raise bad_request(f"'{signal}' must be one of {', '.join(map(repr, values))}", "invalid_value")
        signals.append((signal, value))
    if not signals:
        raise bad_request("give at least one of 'rating' (up|down), 'outcome' (accepted|reverted) or "
                          "'solved' (true|false)", "missing_field")
    note = body.get("note")
    if note is not None and not isinstance(note, str):
        raise bad_request("'note' must be a string", "invalid_type")
    return FeedbackRequest(body.get("response_id"), body.get("session_id"), turn, tuple(signals), note)


def _target(tx: Transaction, account_id: int, request: FeedbackRequest) -> tuple[Any, ...] | None:
    """(usage id, response id, model) of the account's row the request names, or None."""
    columns = "SELECT id, response_id, COALESCE(resolved_model, requested_model, 'unknown') FROM usage"
    if request.response_id is not None:  # the gateway's id (unique), else the provider's (latest wins)
        return tx.execute(f"{columns} WHERE (response_id = ? OR provider_response_id = ?) AND account_id = ?"
                          " ORDER BY CASE WHEN response_id = ? THEN 0 ELSE 1 END, id DESC LIMIT 1",
                          (request.response_id, request.response_id, account_id, request.response_id)).fetchone()
    session = stored_text(request.session_id)
    if request.turn == -1:
        return tx.execute(f"{columns} WHERE session_id = ? AND account_id = ? ORDER BY id DESC LIMIT 1",
                          (session, account_id)).fetchone()
    return tx.execute(f"{columns} WHERE session_id = ? AND account_id = ? ORDER BY id LIMIT 1 OFFSET ?",
                      (session, account_id, (request.turn or 1) - 1)).fetchone()


def give(ledger: Ledger, account_id: int, request: FeedbackRequest) -> dict[str, Any] | None:
    """Store a client's feedback on one of its account's replies, in one transaction;
    None when the account has no such reply. The reply body of `POST /v1/feedback`."""
    def apply(tx: Transaction) -> dict[str, Any] | None:
        found = _target(tx, account_id, request)
        if found is None:
            return None
        usage_id, response_id, model = int(found[0]), found[1], found[2]
        note = redact(request.note[:MAX_NOTE]) if request.note else request.note  # free text: like a capture
        given = []
        for signal, value in request.signals:
            success = EXPLICIT[signal][value]
            changed = put_signal(tx, usage_id, account_id, model, signal, value, "explicit", success, note)
            given.append({"signal": signal, "value": value, "success": success, "changed": changed})
        return {"response_id": response_id, "usage_id": usage_id, "model": model, "feedback": given}

    return ledger.run(apply)


# ---- implicit feedback ----------------------------------------------------------------------
def quality_failure(status: int) -> bool:
    """Whether a model's failure with `status` counts against its work: a server error or a
    broken stream does; a rate limit (429) or another 4xx (auth, a refused body) does not."""
    return status >= 500


@dataclass(frozen=True, slots=True)
class Observed:
    """What the gateway saw of one request beyond its usage row. `chosen_model`: the
    catalog model the client named itself (not a tier), else None."""

    chosen_model: str | None = None
    empty: bool = False
    retry_window_s: float = 120.0
    failures: dict[str, int] = field(default_factory=dict)  # model -> the status it failed with


def record_implicit(tx: Transaction, usage_id: int, row: UsageRow, seen: Observed) -> None:
    """The implicit signals of a new usage row (origin implicit, success 0), written in the
    row's own transaction: `retried` on an earlier success with the same request hash
    within the window, `switched_model` on the session's previous row when the client named
    another model by hand, `error` for an upstream failure (the served model's and each
    fallback's), `empty` for a 200 reply with neither text nor tool call."""
    def put(target: int, model: str, signal: str, value: str) -> None:
        put_signal(tx, target, row.account_id, model, signal, value, "implicit", 0.0)

    if row.request_hash is not None:
        now = time.time()
        earlier = tx.execute(
            "SELECT id, resolved_model, time FROM usage WHERE request_hash = ? AND id < ? AND status = 200"
            " AND time >= ? AND resolved_model IS NOT NULL ORDER BY id DESC LIMIT 1",
            (row.request_hash, usage_id, now - seen.retry_window_s)).fetchone()
        if earlier is not None:
            put(int(earlier[0]), earlier[1], "retried", f"sent again after {now - float(earlier[2]):.0f}s")
    if seen.chosen_model is not None and row.session_id is not None:
        same_account = "account_id = ?" if row.account_id is not None else "account_id IS NULL"
        params = (stored_text(row.session_id), *([row.account_id] if row.account_id is not None else []), usage_id)
        previous = tx.execute(
            f"SELECT id, resolved_model, requested_model FROM usage WHERE session_id = ? AND {same_account}"
            " AND id < ? AND resolved_model IS NOT NULL ORDER BY id DESC LIMIT 1", params).fetchone()
        if previous is not None and seen.chosen_model not in (previous[1], previous[2]):
            put(int(previous[0]), previous[1], "switched_model", stored_text(f"to {seen.chosen_model}") or "")
    for model in row.fallbacks_tried:
        status = seen.failures.get(model)
        if status is not None and not quality_failure(status):
            continue  # a rate limit or a refused request says nothing of the model's work
        put(usage_id, model, "error", "failed; fell back" if row.resolved_model else "failed")
    if row.resolved_model is not None and row.status >= 500:
        put(usage_id, row.resolved_model, "error", f"status {row.status}")
    if row.resolved_model is not None and row.status == 200 and seen.empty:
        put(usage_id, row.resolved_model, "empty", "no text and no tool call")
