"""Labelled rows wrapped in the captured Kilo CLI shapes, for training and validation.

A labelled real row keeps its labels when wrapped: the prompt stays the latest user text
(or, in a `*_loop` shape, the task the agent is working on). Assignment is deterministic
(sha256 of the row key), so reruns and the promotion gate see the same requests.

- Training (`training_views`): every real row as labelled (plain) plus one wrapped copy
  in a shape and mode drawn by hash; synthetic sessions are kept as written.
- Validation (`validation_sets`): the validation rows plain and in each shape of
  `VALIDATION_SHAPES`, in `code` mode (the CLI's default, no hint from the mode), plus
  `chat_first+mode`: the mode a user doing that work would pick (`MATCHED_MODE`).
Mid-session shapes take a previous task from other rows of the same split (their
latest user text; validation takes them from training rows), so the first task is real
text unrelated to the label.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Any

from classifier.features import parse_request
from training.dataset import Example
from training.shapes import SHAPES, wrap

TRAIN_SHAPES = tuple(s for s in SHAPES if s != "plain")
VALIDATION_SHAPES = ("plain", "chat_first", "chat_loop", "chat_mid", "messages_loop", "responses_mid")
MATCHED_MODE = {"debugging": "debug", "planning_design": "plan", "investigation": "ask",
                "agentic_execution": "orchestrator", "implementation": "code", "refactoring": "code"}
TRAIN_MODES = ("code", "debug", "plan", "ask", "orchestrator")
FIRST_TASK_CHARS = 600


def _unit(key: str) -> float:
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF


def _pick(key: str, options: tuple[str, ...] | list[str]) -> str:
    return options[int(_unit(key) * len(options)) % len(options)]


def training_mode(ex: Example) -> str:
    """Half `code` (the default), 30% the mode matching the labelled work, 20% any mode."""
    u = _unit(f"mode:{ex.key}")
    if u < 0.5:
        return "code"
    if u < 0.8:
        return MATCHED_MODE[ex.task_type]
    return _pick(f"anymode:{ex.key}", TRAIN_MODES)


def wrap_example(ex: Example, shape: str, mode: str | None, pool: list[str], tag: str) -> Example:
    """A copy of `ex` whose request is its latest user text wrapped in `shape`.

    A row with an earlier user turn (a follow-up) keeps it as the session's first task, so
    its `*_loop` shape becomes `*_mid`; other `*_mid` rows take a first task from `pool`.
    """
    s = parse_request(ex.request)
    first: str | None = None
    if s.n_user_turns > 1 and s.first_user != s.latest_user:
        first = s.first_user
        if shape.endswith("_loop"):
            shape = shape.replace("_loop", "_mid")
    if shape.endswith("_mid") and first is None and pool:
        first = _pick(f"first:{ex.key}", pool)[:FIRST_TASK_CHARS]
    request: dict[str, Any]
    if shape == "plain":
        request = dict(ex.request)
        if mode:
            request["mode"] = mode
    else:
        request = wrap(s.latest_user, shape, mode=mode, first_task=first)
    return replace(ex, request=request, row_id=f"{ex.row_id}#{tag}")


def prompt_pool(examples: list[Example]) -> list[str]:
    """Latest user texts of real rows: the previous tasks of mid-session wraps."""
    out = []
    for ex in examples:
        if ex.label_method != "synthetic":
            out.append(parse_request(ex.request).latest_user)
    return out


def training_views(examples: list[Example]) -> list[Example]:
    """Every training row plus, for real rows, one wrapped copy (shape and mode by hash)."""
    pool = prompt_pool(examples)
    out = list(examples)
    for ex in examples:
        if ex.label_method == "synthetic":
            continue
        shape = _pick(f"shape:{ex.key}", TRAIN_SHAPES)
        out.append(wrap_example(ex, shape, training_mode(ex), pool, shape))
    return out


def validation_sets(val: list[Example], pool: list[str]) -> dict[str, list[Example]]:
    """The validation rows per shape name (see the module docstring)."""
    sets: dict[str, list[Example]] = {}
    for shape in VALIDATION_SHAPES:
        if shape == "plain":
            sets[shape] = list(val)
        else:
            sets[shape] = [wrap_example(ex, shape, "code", pool, shape) for ex in val]
    sets["chat_first+mode"] = [wrap_example(ex, "chat_first", MATCHED_MODE[ex.task_type], pool, "chat_first+mode")
                               for ex in val]
    return sets
