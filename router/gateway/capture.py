"""Opt-in request capture (docs/gateway.md, "Request capture"): a sampled share of proxied
requests keeps the user's latest text, as the classifier sees it, for retraining. Off by
default. Secrets and e-mail addresses are redacted before anything is stored, then an
operator's own hook may redact more; rows expire after the retention period and the
gateway's sweeper deletes them.

Only what the user typed is kept: `classifier.session.parse_request(body).latest_user`,
never the system prompt, tool results or the client's injected environment details. Tool
results that arrive as the user's own message (the older Cline / Roo / Kilo XML tool
protocol: `[read_file for '.env'] Result:`, `<file_content path=...>`) are cut off, or the
capture is dropped when nothing typed is left (`user_part`)."""

from __future__ import annotations

import hashlib
import importlib
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from classifier.session import Session
from router.gateway.accounts import Ledger, UsageRow, stored_text
from router.gateway.database import Transaction

log = logging.getLogger("autotier.gateway")

MAX_TEXT = 8000  # characters kept of a captured text (parse_request keeps head and tail)
DAY_S = 86_400.0

# Names that hold a secret (`db_password`, `client_secret`, `apiKey`, `SecretAccessKey`,
# `_authToken`, `private_key_id`), then `=` or `:` (with a type too: `password: str = ...`),
# then the value, quoted (spaces allowed) or bare (`(` after it: a call, not a value).
# Every repeat that can backtrack is bounded (a prefix of 128 characters, 32 after `auth` /
# `credential`, 64 spaces): unbounded, `"auth" * 2000` took 0.8 s, quadratic, holding the GIL.
_NAME = (r"""(?<![\w\-.])[\w\-.]{0,128}?"""
         r"""(?:key|token|secret|passphrase|password|passwd|pwd|auth\w{0,32}|credential\w{0,32})"""
         r"""(?:[_\-]?id)?["']?""")
_ASSIGN = (r"""(?:[ \t]{0,64}:[ \t]{0,64}[A-Za-z_][\w\[\]., |]{0,40}?[ \t]{0,64}=(?!=)|[ \t]{0,64}[:=](?!=))"""
           r"""[ \t]{0,64}""")
_NAMED = re.compile(rf"""(?i)({_NAME}{_ASSIGN})(?:(["'])(.*?)\2|([^\s"',;()\[\]{{}}<>`]+)(\()?)""")
_TYPE_TAIL = re.compile(r"[ \t]{0,64}:[ \t]{0,64}[A-Za-z_][\w\[\]., |]{0,40}$")  # _ASSIGN's `: type`
# Names whose value is redacted whatever it looks like; the others' only when it looks like a key.
_PASSWORD_NAME = re.compile(r"(?i)(?:passphrase|password|passwd|pwd|secret)(?:[_\-]?id)?[\"']?$")
# Bare values after a password name that are code, not a secret: `password: str`, `pwd=None`.
_CODE_VALUES = frozenset(("str", "string", "bytes", "int", "bool", "any", "none", "null", "nil", "true", "false",
                          "undefined", "optional", "secretstr", "number", "object", "unknown", "required"))
_KEY_CHARS = re.compile(r"[A-Za-z0-9+/=_\-.~]{16,}")
_KEY_MARK = re.compile(r"[0-9A-Z]")
_CARD = re.compile(r"(?<![\w\-])[2-6]\d{3}(?:\d{9,15}|(?:[ \-]\d{2,6}){2,4})(?![\w\-])")
_CARD_GROUPS = re.compile(r"([ \-])")
_HIGH_ENTROPY = re.compile(r"(?<![A-Za-z0-9+/=_\-])[A-Za-z0-9+/_\-]{32,}={0,2}(?![A-Za-z0-9+/=_\-])")
_RUN = re.compile(r"[A-Z]{2,}(?![a-z])|[A-Z]?[a-z]+|[0-9]+|[A-Z]")
_WORD_SEGMENT = re.compile(r"[A-Za-z]?[a-z]{2,}")


def _has_classes(text: str) -> tuple[bool, bool, bool]:
    """(upper case?, lower case?, digit?)"""
    return any(c.isupper() for c in text), any(c.islower() for c in text), any(c.isdigit() for c in text)


def _key_like(value: str) -> bool:
    """16+ characters of a key's alphabet with a digit, or both cases and no `_` / `.`
    (not `created_at`, `settings.apiKey`), or 32+ of them."""
    if _KEY_CHARS.fullmatch(value) is None:
        return False
    upper, lower, digit = _has_classes(value)
    return digit or (upper and lower and "_" not in value and "." not in value) or len(value) >= 32


def _named(match: re.Match[str]) -> str:
    """The value after a secret-sounding name: a password's whatever it looks like (unless
    it is code: a type, `None`, an attribute, the same name: `password=password`), the
    other names' when it looks like a key (`token = get_token()`, `sort_key: "id"` stay)."""
    lead, quote, quoted, bare, call = match.groups()
    name = _TYPE_TAIL.sub("", lead.rstrip().rstrip(":=").rstrip()).strip("\"'")
    password = _PASSWORD_NAME.search(name) is not None
    if quote:
        if not quoted or not (password or _key_like(quoted)):
            return match.group()
        return f"{lead}{quote}[REDACTED_SECRET]{quote}"
    if call or not (password or _key_like(bare)):
        return match.group()
    lowered = bare.lower()
    if password and not _has_classes(bare)[2] and (
            "." in bare or lowered in _CODE_VALUES or lowered == name.rsplit(".", 1)[-1].lower()):
        return match.group()
    return f"{lead}[REDACTED_SECRET]"


def _prefixed_key(match: re.Match[str]) -> str:
    """`sk-...` / `at-...` with a digit or capital after the prefix ("at-least-one-of-these"
    stays). Checked here, not by a lookahead: one scan per run, not one per `sk-` in it."""
    return "[REDACTED_KEY]" if _KEY_MARK.search(match.group(), 3) else match.group()


def _jwt(match: re.Match[str]) -> str:
    """A JWT has three segments; a run with fewer is kept (and skipped whole, so that a run of
    `eyJ-eyJ-...` is read once, not once per `eyJ`)."""
    return "[REDACTED_TOKEN]" if match.group(1) is not None else match.group()


def _pem_body(match: re.Match[str]) -> str:
    """Base64 lines up to a private key's END line; lines not followed by one are kept (and
    skipped whole: each line is read once, not once per line above it)."""
    return "[REDACTED_PRIVATE_KEY]" if match.group(1) is not None else match.group()


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    """A card number: 13-19 digits starting 2-6, Luhn-valid, whole or in groups; the
    longest valid run of groups is redacted (`4111 1111 1111 1111 123` keeps ` 123`)."""
    text = match.group()
    groups = _CARD_GROUPS.split(text)  # digits, separator, digits, ...
    for end in range(len(groups), 0, -2):
        digits = "".join(groups[:end:2])
        if 13 <= len(digits) <= 19 and _luhn(digits):
            return "[REDACTED_CARD]" + "".join(groups[end:])
    return text


def _looks_random(token: str) -> bool:
    """A token that mixes upper case, lower case and digits in short runs (`wJalrXUtn...`),
    unlike identifiers (`getUserAccountSettings2`: words) and hex or UUIDs (one case).
    Split into words (`[A-Z]?[a-z]+`, `[A-Z]{2,}`, digits, a lone capital), a random token
    has many of one or two characters: 45% or more in 99.5% of random base62 strings of 32
    characters, 40% at most in identifiers such as `Win32ApiWrapperForX86And64BitTargets`."""
    if not all(_has_classes(token)):
        return False
    runs = _RUN.findall(token)
    return sum(len(r) <= 2 for r in runs) >= 0.45 * len(runs)


def _high_entropy(match: re.Match[str]) -> str:
    """A 32+ character token that looks random; in a path or URL (a `/` segment that is a
    word: `src`, `Users`) each segment is judged alone."""
    token = match.group()
    segments = token.split("/")
    if len(segments) > 1 and any(_WORD_SEGMENT.fullmatch(s) for s in segments):
        return "/".join("[REDACTED_SECRET]" if len(s) >= 32 and _looks_random(s) else s for s in segments)
    return "[REDACTED_SECRET]" if _looks_random(token) else token


_PEM_END = r"-----END [A-Z0-9 ]{0,64}PRIVATE KEY(?: BLOCK)?-----"
# Built-in redactions, in order: each (needle, pattern, placeholder); the pattern runs only
# on a text that holds the needle (None: always); the placeholder is a string or a function
# of the match. Whole blocks first, so that a private key's body is not half-redacted by the
# narrower patterns after it; the high-entropy fallback last. No pattern may take more than
# linear time (tests/gateway/test_capture.py, inputs built to backtrack): a repeat that can
# backtrack is bounded, or its pattern always matches the whole run and a function decides.
REDACTIONS: tuple[tuple[str | None, re.Pattern[str], str | Callable[[re.Match[str]], str]], ...] = (
    ("-----BEGIN", re.compile(rf"-----BEGIN [A-Z0-9 ]{{0,64}}PRIVATE KEY(?: BLOCK)?-----.*?(?:{_PEM_END}|\Z)", re.S),
     "[REDACTED_PRIVATE_KEY]"),
    # A key's body whose BEGIN line was cut off (a partial paste, parse_request's head-and-tail cut).
    ("-----END", re.compile(rf"(?m)(?:^[A-Za-z0-9+/]{{16,}}={{0,2}}[ \t]{{0,64}}\r?\n)+({_PEM_END})?"), _pem_body),
    # Credentials in a URL (any scheme and host: `redis://:pw@cache`) and on a command line.
    ("://", re.compile(r"(?i)(?<![\w+.\-])([a-z][a-z0-9+.\-]{0,31}://[^\s:/@\"'<>]*):[^\s/\"'<>]+@"),
     r"\1:[REDACTED_SECRET]@"),
    ("-u", re.compile(r"""(?<!\S)(-u|--user)(\s+|=)(["']?)([^\s:"']+):[^\s"']+"""), r"\1\2\3\4:[REDACTED_SECRET]"),
    ("hooks.slack.com", re.compile(r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_\-]+"),
     "[REDACTED_KEY]"),
    (None, re.compile(r"\beyJ[A-Za-z0-9_\-]{4,}(?:\.[A-Za-z0-9_\-]{4,}(\.[A-Za-z0-9_\-]{4,})?)?"), _jwt),
    (None, re.compile(r"(?i)\b((?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?(?:basic|digest|token|api-?key)\s+)"
                      r"[A-Za-z0-9+/=._~\-]{6,}"), r"\1[REDACTED_TOKEN]"),
    (None, re.compile(r"\b(Basic\s+)(?=[A-Za-z]*[0-9+/=])[A-Za-z0-9+/]{12,}={0,2}"), r"\1[REDACTED_TOKEN]"),
    (None, re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/\-]{8,}=*"), r"\1[REDACTED_TOKEN]"),
    # Provider and platform keys by their prefixes; sk-/at- need a digit or capital so that
    # words such as "at-least-one-of-these" stay.
    (None, re.compile(r"\b(?:sk|at)-[A-Za-z0-9_\-]{20,}"), _prefixed_key),
    (None, re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), "[REDACTED_KEY]"),
    (None, re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})"), "[REDACTED_KEY]"),
    (None, re.compile(r"\b(?:xox[a-z]|xapp)-[A-Za-z0-9\-]{10,}"), "[REDACTED_KEY]"),
    (None, re.compile(r"\b(?:[spr]k_(?:live|test)|whsec)_[A-Za-z0-9]{10,}"), "[REDACTED_KEY]"),
    (None, re.compile(r"\bAIza[0-9A-Za-z_\-]{35}"), "[REDACTED_KEY]"),
    (None, re.compile(r"\b(?:npm_[A-Za-z0-9]{36}|hf_[A-Za-z0-9]{30,}|gl(?:pat|dt|rt|ptt|cbt|soat|ft)-[\w\-]{20,})"),
     "[REDACTED_KEY]"),
    (None, _NAMED, _named),
    (None, _CARD, _card),
    ("@", re.compile(r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}\b"),
     "[REDACTED_EMAIL]"),
    # Whatever else looks random: 32+ characters mixing upper case, lower case and digits.
    (None, _HIGH_ENTROPY, _high_entropy),
)


def redact(text: str) -> str:
    """`text` with API keys, tokens, passwords, credentials in URLs and on command lines,
    private key blocks, card numbers, e-mail addresses and other random-looking tokens
    replaced by placeholders such as [REDACTED_KEY] and [REDACTED_EMAIL] (docs/gateway.md,
    "Request capture", lists what is and is not caught)."""
    for needle, pattern, placeholder in REDACTIONS:
        if needle is None or needle in text:
            text = pattern.sub(placeholder, text)
    return text


# Tool results that arrive as a user message (Cline / Roo / Kilo's older XML tool protocol,
# pasted transcripts) and the blocks a client appends to the user's text (`@file`
# mentions): none of it was typed by the user.
_TOOL_MARK = re.compile(
    r"(?im)^[ \t]*\[[\w\-]+(?: for [^\n]*)?\] Result:|^[ \t]*\[TASK RESUMPTION\]"
    r"|<(?:file_content|folder_content|url_content|tool_result|tool_use_result|function_results|function_result"
    r"|terminal_output|workspace_diagnostics|git_working_changes|git_commit|problems)\b")
# What the user typed inside those messages: the task (`<task>`, at the start), feedback on
# a denied or finished step (`<feedback>`, after the client's line about feedback), the
# answer to the agent's question (`<answer>`, right after its Result header) and new
# instructions on resuming (`<user_message>`). The opening tags only: `_user_blocks` finds
# each one's closing tag.
_USER_OPEN = re.compile(
    r"\A\s*<(task)>\n?"
    r"|(?i:feedback[^\n]{0,256})\n<(feedback)>\n?"
    r"|(?i:\] Result:)\s*<(answer)>\n?"
    r"|(?i:instructions[^\n]{0,256})\n<(user_message)>\n?")


def _user_blocks(text: str) -> list[str]:
    """The contents of the typed blocks, in order: from each opening tag to the first closing
    tag after it. An opening with no closing tag after it is skipped, and so are the later
    openings of that tag without another search (a lazy `.*?</feedback>` read the rest of
    the text once per opening: `"feedback\\n<feedback>\\n" * 400` took 30 ms)."""
    parts: list[str] = []
    unclosed: set[str] = set()
    pos = 0
    while (opening := _USER_OPEN.search(text, pos)) is not None:
        tag = opening.group(opening.lastindex or 0)
        end = -1 if tag in unclosed else text.find(f"</{tag}>", opening.end())
        if end < 0:
            unclosed.add(tag)
            pos = opening.start() + 1
            continue
        parts.append(text[opening.end():end])
        pos = end + len(tag) + 3
    return parts


def user_part(text: str) -> str | None:
    """The part of a user message the user typed: `text` itself when it holds no tool
    result; else the typed part when it can be told apart (a `<task>`, `<feedback>`,
    `<answer>` or `<user_message>` block, or the text before an appended `<file_content>`);
    else None (a bare tool result: nothing of it may be captured)."""
    first = _TOOL_MARK.search(text)
    if first is None:
        return text
    parts = _user_blocks(text)
    if not parts:
        parts = [text[: first.start()]]
    kept = []
    for part in parts:
        mark = _TOOL_MARK.search(part)  # a block a client appended inside the typed part
        part = (part[: mark.start()] if mark else part).strip()
        if part:
            kept.append(part)
    return "\n".join(kept) or None


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
        its latest user text is a tool result with no typed part (`user_part`), or the hook
        failed (logged; the request is unaffected)."""
        if session is None or response_id is None or not self.sampled(response_id):
            return None
        latest = user_part(session.latest_user)
        if latest is None:
            log.debug("capture of %s dropped: the latest user message is a tool result", response_id)
            return None
        try:
            first = user_part(session.first_user) if self.context else None
            context = self.clean(first) if first is not None else None
            return Snapshot(self.clean(latest), context, session.n_tool_results)
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
