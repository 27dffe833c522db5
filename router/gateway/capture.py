"""Opt-in request capture (docs/gateway.md, "Request capture"): a sampled share of proxied
requests keeps the user's latest text, as the classifier sees it, for retraining. Off by
default. Secrets and e-mail addresses are redacted before anything is stored, then an
operator's own hook may redact more; rows expire after the retention period and the
gateway's sweeper deletes them.

Only what the user typed is kept: `classifier.session.parse_request(body).latest_user`,
never the system prompt, tool results or the client's injected environment details."""

from __future__ import annotations

import hashlib
import importlib
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from classifier.session import Session
from router.gateway.accounts import Ledger, Transaction, UsageRow, stored_text

log = logging.getLogger("autotier.gateway")

MAX_TEXT = 8000  # characters kept of a captured text (parse_request keeps head and tail)
DAY_S = 86_400.0

_KEY_VALUE = r"[A-Za-z0-9_\-]"
# Built-in redactions, in order: each (pattern, placeholder). Whole blocks first, so that a
# private key's body is not half-redacted by the narrower patterns after it.
REDACTIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)", re.S),
     "[REDACTED_PRIVATE_KEY]"),
    (re.compile(r"\beyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]{4,}"), "[REDACTED_TOKEN]"),
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/\-]{8,}=*"), r"\1[REDACTED_TOKEN]"),
    # Provider and platform keys by their prefixes; sk-/at- need a digit or capital so that
    # words such as "at-least-one-of-these" stay.
    (re.compile(rf"\b(?:sk|at)-(?={_KEY_VALUE}*[0-9A-Z]){_KEY_VALUE}{{20,}}"), "[REDACTED_KEY]"),
    (re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), "[REDACTED_KEY]"),
    (re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})"), "[REDACTED_KEY]"),
    (re.compile(r"\bxox[abprs]-[A-Za-z0-9\-]{10,}"), "[REDACTED_KEY]"),
    # A value assigned to a secret-sounding name: passwords whatever they look like, keys
    # and tokens when long and with a digit (hex, base64), not `token = get_token()`.
    (re.compile(r"""(?i)\b((?:password|passwd|pwd)["']?\s*[:=]\s*["']?)[^\s"',;]{4,}"""), r"\1[REDACTED_SECRET]"),
    (re.compile(r"""(?i)\b((?:[a-z]+[_\-])?(?:key|token|secret)["']?\s*[:=]\s*["']?)"""
                r"""(?=[A-Za-z0-9+/=_\-.]*[0-9])[A-Za-z0-9+/=_\-.]{16,}"""), r"\1[REDACTED_SECRET]"),
    (re.compile(r"\b[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}\b"), "[REDACTED_EMAIL]"),
)


def redact(text: str) -> str:
    """`text` with API keys, tokens, passwords, private key blocks and e-mail addresses
    replaced by placeholders such as [REDACTED_KEY] and [REDACTED_EMAIL]."""
    for pattern, placeholder in REDACTIONS:
        text = pattern.sub(placeholder, text)
    return text


def load_hook(spec: str) -> Callable[[str], str]:
    """The operator's redaction hook `module:function` (the function may be a dotted path,
    e.g. `builtins:str.upper`). Raises ValueError naming what could not be found."""
    module_name, _, path = spec.partition(":")
    if not module_name or not path:
        raise ValueError(f"--capture-redact {spec!r}: expected MODULE:FUNCTION")
    try:
        found: object = importlib.import_module(module_name)
        for part in path.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"--capture-redact {spec!r}: {exc}") from None
    if not callable(found):
        raise ValueError(f"--capture-redact {spec!r}: not a function")
    return found  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What one capture keeps of the request, already redacted."""

    text: str
    context: str | None
    n_tool_results: int


@dataclass(frozen=True)
class CapturePolicy:
    """`rate`: share of proxied requests captured (0: off), sampled by the reply's id;
    `retention_s`: seconds a capture is kept; `context`: keep the session's first user
    text too; `hook`: the operator's extra redaction, run after the built-in one."""

    rate: float = 0.0
    retention_s: float = 30 * DAY_S
    context: bool = False
    hook: Callable[[str], str] | None = None

    @classmethod
    def from_settings(cls, rate: float, retention_days: float, context: bool, hook: str | None) -> CapturePolicy:
        """Raises ValueError for a rate outside 0..1, a retention not above 0 or a hook
        that cannot be loaded."""
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"--capture-rate must be between 0 and 1, got {rate}")
        if retention_days <= 0:
            raise ValueError(f"--capture-retention-days must be above 0, got {retention_days}")
        return cls(rate, retention_days * DAY_S, context, load_hook(hook) if hook else None)

    def sampled(self, response_id: str) -> bool:
        """Deterministic: the same reply id is always in or always out of the sample."""
        if self.rate <= 0.0:
            return False
        share = int(hashlib.sha256(response_id.encode()).hexdigest()[:8], 16) / 0x1_0000_0000
        return share < self.rate

    def clean(self, text: str) -> str:
        """Built-in redaction, then the hook's; the hook's exception propagates."""
        text = redact(text)
        if self.hook is not None:
            text = self.hook(text)
            if not isinstance(text, str):
                raise TypeError(f"the --capture-redact hook returned {type(text).__name__}, not str")
        return stored_text(text, MAX_TEXT) or ""

    def snapshot(self, session: Session | None, response_id: str | None) -> Snapshot | None:
        """What to capture of a request, or None when it is not sampled, has no user text,
        or the hook failed (logged; the request is unaffected)."""
        if session is None or response_id is None or not self.sampled(response_id):
            return None
        try:
            context = self.clean(session.first_user) if self.context else None
            return Snapshot(self.clean(session.latest_user), context, session.n_tool_results)
        except Exception as exc:  # noqa: BLE001 - an operator's hook must not fail the request
            log.warning("capture of %s dropped: the redaction hook raised %s", response_id, type(exc).__name__)
            return None


def store(tx: Transaction, usage_id: int, row: UsageRow, snapshot: Snapshot, retention_s: float) -> None:
    """Write one capture beside its usage row (inside the row's transaction)."""
    now = time.time()
    record = row.decision
    efficient = record is not None and record.decided_by == "efficient"
    tx.execute(
        "INSERT INTO captures (time, expires, usage_id, account_id, api, mode, tier, model, route_key,"
        " difficulty, text, context, n_tool_results, prompt_tokens) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (now, now + retention_s, usage_id, row.account_id, row.api, stored_text(row.mode), row.tier,
         row.resolved_model, record.route_key if record else None,
         record.difficulty if efficient and record else None, snapshot.text, snapshot.context,
         snapshot.n_tool_results, row.tokens_in),
    )


def delete_expired(ledger: Ledger) -> int:
    """Delete captures past their expiry; returns how many (the app's sweeper calls it)."""
    return int(ledger.run(lambda tx: tx.execute("DELETE FROM captures WHERE expires <= ?", (time.time(),)).rowcount))
