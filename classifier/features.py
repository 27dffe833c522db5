"""Session featurisation: one request (any API shape) -> texts to embed + a numeric vector.

`classifier.session.parse_request` finds the user's own latest text, the session's first
task, the mode and the tool activity; `Featuriser` turns that into the texts the embedder
sees (each cut to a fixed number of characters, so the cost of a request does not grow
with its context) and a numeric vector.
"""

from __future__ import annotations

import math
import re
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from classifier.session import KIND_NAMES, Session, clip_text, parse_request

__all__ = ["DEFAULT_MODES", "Features", "Featuriser", "Session", "clip_text", "hashed_words",
           "instruction_text", "parse_request"]

DEFAULT_MODES = ("ask", "code", "debug", "orchestrator", "plan", "architect")
# Substring tests on lowered text: a case-insensitive regex costs ~5x more per request.
_ERROR_WORDS = ("traceback", "exception", "error", "fail", "stack trace", "stacktrace", "panic:")
_CODE_LINES = re.compile(
    r"^(?:.*[;{}][ \t]*|[ \t]*(?:def|class|import|from|return|#include|public|private|function"
    r"|const|let|var)\b.*| {4,}\S.*|\t+\S.*)$",
    re.M,
)
_FENCED = re.compile(r"```.*?(?:```|$)", re.S)
_BLANKS = re.compile(r"\n\s*\n+")
_WORD = re.compile(r"[a-z][a-z0-9_']+")
# Settings of artefacts written before a key existed: they load with the old behaviour.
_LEGACY = {"max_chars": 2000, "context_chars": 600, "system_prefix_chars": 300, "instruction_chars": 1500,
           "bow_dim": 0, "instruction_embedding": False, "tool_activity": False}


@dataclass(frozen=True)
class Features:
    """`texts` = (latest user turn, context, instruction) to embed, and a numeric vector.

    context is "" for a bare one-turn request; instruction (the latest turn without its
    code) is "" when it equals the latest turn. Empty texts embed to zeros / reuse.
    """

    texts: tuple[str, str, str]
    numeric: np.ndarray = field(repr=False)


def instruction_text(text: str, max_chars: int = 1500) -> str:
    """The prose of a turn: fenced blocks and code-looking lines removed."""
    prose = _CODE_LINES.sub("", _FENCED.sub(" ", text))
    prose = _BLANKS.sub("\n", prose).strip()
    return prose[:max_chars] if prose else text[:300]


_WORD_CRC: dict[str, tuple[int, bytes]] = {}  # word -> (crc32 of it, its bytes after a space)
_WORD_CRC_MAX = 100_000


def _word_crc(word: str) -> tuple[int, bytes]:
    hit = _WORD_CRC.get(word)
    if hit is None:
        if len(_WORD_CRC) >= _WORD_CRC_MAX:
            _WORD_CRC.clear()
        raw = word.encode()
        hit = _WORD_CRC[word] = (zlib.crc32(raw), b" " + raw)
    return hit


def hashed_words(text: str, dim: int) -> np.ndarray:
    """Binary bag of word unigrams + bigrams, hashed (crc32, stable) into `dim` slots.

    A bigram's crc32 continues from its first word's (`crc32(" b", crc32("a"))` is
    `crc32("a b")`), and each word's is cached, so a request costs one crc32 per bigram.
    """
    vec = np.zeros(dim, dtype=np.float32)
    if dim <= 0:
        return vec
    pairs = [_word_crc(w) for w in _WORD.findall(text[:3000].lower())]
    idx = [c % dim for c, _ in pairs]
    crc = zlib.crc32
    idx += [crc(b[1], a[0]) % dim for a, b in zip(pairs, pairs[1:], strict=False)]
    vec[idx] = 1.0
    return vec


class Featuriser:
    """Turns requests into `Features`; every knob is a constructor parameter.

    max_chars: characters of the latest user turn kept (head + tail): the embedded text,
    the code/error/question signals and the bag of words all read only these;
    context_chars: characters of the session's first task kept as context (embedded when
    it differs from the latest turn); system_prefix_chars: characters of the system prompt
    added to the context (0: none; agent system prompts are boilerplate, the mode says
    more); instruction_chars: characters of the instruction (the latest turn without its
    code) kept; modes: mode names one-hot encoded (anything else sets the "other" slot);
    bow_dim: slots of the hashed bag of words of the instruction (0 turns it off);
    instruction_embedding: also embed the instruction as a third text; tool_activity: add
    the tool calls so far by kind and the agent's steps since the latest user turn.
    At most max_chars + context_chars + system_prefix_chars + instruction_chars characters
    reach the tokenizer per request, whatever the request's size.
    """

    def __init__(
        self,
        max_chars: int = 1200,
        context_chars: int = 400,
        system_prefix_chars: int = 0,
        modes: tuple[str, ...] = DEFAULT_MODES,
        bow_dim: int = 4096,
        instruction_embedding: bool = True,
        instruction_chars: int = 600,
        tool_activity: bool = True,
    ) -> None:
        self.max_chars = max_chars
        self.context_chars = context_chars
        self.system_prefix_chars = system_prefix_chars
        self.modes = tuple(modes)
        self.bow_dim = bow_dim
        self.instruction_embedding = instruction_embedding
        self.instruction_chars = instruction_chars
        self.tool_activity = tool_activity

    def config(self) -> dict[str, Any]:
        return {
            "max_chars": self.max_chars,
            "context_chars": self.context_chars,
            "system_prefix_chars": self.system_prefix_chars,
            "modes": list(self.modes),
            "bow_dim": self.bow_dim,
            "instruction_embedding": self.instruction_embedding,
            "instruction_chars": self.instruction_chars,
            "tool_activity": self.tool_activity,
        }

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> Featuriser:
        """The featuriser an artefact was trained with; keys it lacks take their old values."""
        get = {**_LEGACY, **cfg}.get
        return cls(
            max_chars=int(get("max_chars")),
            context_chars=int(get("context_chars")),
            system_prefix_chars=int(get("system_prefix_chars")),
            modes=tuple(cfg.get("modes", DEFAULT_MODES)),
            bow_dim=int(get("bow_dim")),
            instruction_embedding=bool(get("instruction_embedding")),
            instruction_chars=int(get("instruction_chars")),
            tool_activity=bool(get("tool_activity")),
        )

    @property
    def max_tokenized_chars(self) -> int:
        """Upper bound on the characters embedded per request (texts plus separators)."""
        instruction = self.instruction_chars if self.instruction_embedding else 0
        return self.max_chars + 5 + self.context_chars + 5 + self.system_prefix_chars + 1 + instruction

    @property
    def numeric_names(self) -> list[str]:
        base = [
            "log_messages",
            "log_user_turns",
            "tools_offered",
            "log_tools",
            "tool_results",
            "log_tool_results",
            "has_system",
            "log_code_blocks",
            "code_line_share",
            "log_latest_chars",
            "log_total_chars",
            "error_marker",
            "is_question",
            "mode_set",
        ]
        modes = [f"mode_{m}" for m in self.modes] + ["mode_other"]
        activity = []
        if self.tool_activity:
            activity = ["log_tool_calls", *(f"tool_share_{k}" for k in KIND_NAMES), "log_steps_since_user",
                        "working_on_latest"]
        return base + modes + activity + [f"bow_{i}" for i in range(self.bow_dim)]

    def texts(self, s: Session, latest: str | None = None, prose: str | None = None) -> tuple[str, str, str]:
        """(latest turn, context, instruction); `latest` / `prose` when the caller has them."""
        latest = clip_text(s.latest_user, self.max_chars) if latest is None else latest
        parts = []
        if s.system and self.system_prefix_chars > 0:
            parts.append(s.system[: self.system_prefix_chars])
        if s.n_user_turns > 1 and s.first_user != s.latest_user:
            parts.append(clip_text(s.first_user, self.context_chars))
        instruction = ""
        if self.instruction_embedding:
            prose = instruction_text(latest, len(latest)) if prose is None else prose
            if prose != latest.strip():  # some code was removed: the prose is a text of its own
                instruction = prose[: self.instruction_chars]
        return latest, "\n".join(parts), instruction

    def numeric(self, s: Session, instruction: str | None = None, latest: str | None = None) -> np.ndarray:
        latest = clip_text(s.latest_user, self.max_chars) if latest is None else latest
        n_lines = sum(1 for ln in latest.split("\n") if ln.strip())
        code_share = len(_CODE_LINES.findall(latest)) / n_lines if n_lines else 0.0
        fences = latest.count("```")
        lowered = latest.lower()
        vec = [
            math.log1p(s.n_messages),
            math.log1p(s.n_user_turns),
            float(s.n_tools > 0),
            math.log1p(s.n_tools),
            float(s.n_tool_results > 0),
            math.log1p(s.n_tool_results),
            float(bool(s.system)),
            math.log1p((fences + 1) // 2),
            code_share,
            math.log1p(s.latest_chars or len(s.latest_user)),
            math.log1p(s.total_chars),
            float(any(w in lowered for w in _ERROR_WORDS)),
            float(latest.rstrip().endswith("?")),
            float(s.mode is not None),
        ]
        onehot = [0.0] * (len(self.modes) + 1)
        if s.mode is not None:
            idx = self.modes.index(s.mode) if s.mode in self.modes else len(self.modes)
            onehot[idx] = 1.0
        vec += onehot
        if self.tool_activity:
            n_calls = sum(s.tool_calls)
            vec.append(math.log1p(n_calls))
            vec += [c / n_calls if n_calls else 0.0 for c in s.tool_calls]
            vec += [math.log1p(s.steps_since_user), float(s.steps_since_user > 0)]
        head = np.asarray(vec, dtype=np.float32)
        if self.bow_dim <= 0:
            return head
        words = hashed_words(instruction if instruction is not None else latest, self.bow_dim)
        return np.concatenate([head, words])

    def __call__(self, request: dict[str, Any]) -> Features:
        s = parse_request(request)
        latest = clip_text(s.latest_user, self.max_chars)
        prose = instruction_text(latest, len(latest))
        texts = self.texts(s, latest, prose)
        words = prose[: self.instruction_chars] if self.bow_dim > 0 else None
        return Features(texts, self.numeric(s, words, latest))
