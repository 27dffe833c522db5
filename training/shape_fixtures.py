"""The captured request-shape fixtures in data/shapes/: redaction, writing and reading.

A fixture is one captured Kilo CLI session, `data/shapes/<session>.json.xz` (xz keeps
the repeated 14k-character system prompt and tool list of every request in a session to
a few KB). Its JSON object:

    {"session", "cli": "<kilo version>", "model", "agent", "api": "chat"|"responses"|"messages",
     "turns": [the user texts typed, in order],
     "requests": [{"path", "headers": {kept headers}, "body": {...}, "turn": i, "step": j}]}

`turn` is the user turn a request belongs to (0-based) and `step` the request's number
within that turn (0 = the request carrying the new user text; later steps follow tool
results). Bodies are verbatim except for machine-specific values, replaced by fixed
placeholders: the scratch workspace path (`/workspace/app`), HOME (`/home/user`),
timestamps and dates, session and machine ids, and the API key (never kept).
"""

from __future__ import annotations

import json
import lzma
import re
from pathlib import Path
from typing import Any

KILO_VERSION = "7.7.9"
WORKSPACE = "/workspace/app"
HOME = "/home/user"
KEPT_HEADERS = ("x-kilocode-mode", "x-kilocode-feature", "x-kilocode-editorname", "x-title", "http-referer",
                "user-agent", "x-kilocode-taskid", "x-session-id", "x-kilocode-machineid", "anthropic-version")
ID_HEADERS = {"x-kilocode-taskid": "ses_fixture", "x-session-id": "ses_fixture",
              "x-kilocode-machineid": "machine_fixture"}
_ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?")
_DATE_WORDS = re.compile(r"\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]* "
                         r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]* \d{1,2},? \d{4}\b")
_SES_ID = re.compile(r"\bses_[A-Za-z0-9]{8,}\b")
_EPOCH_MS = re.compile(r"\b1[6-9]\d{11}\b")  # e.g. the plan mode's plan file names
API_OF_PATH = {"chat/completions": "chat", "responses": "responses", "messages": "messages"}
DEFAULT_DIR = Path(__file__).resolve().parents[1] / "data" / "shapes"


def api_of(path: str) -> str:
    """'chat' | 'responses' | 'messages' for a request path such as /api/openrouter/messages."""
    for tail, api in API_OF_PATH.items():
        if path.rstrip("/").endswith(tail):
            return api
    raise ValueError(f"unknown API path {path!r}")


def redact(value: Any, replacements: list[tuple[str, str]]) -> Any:
    """`value` with every string made machine-independent (paths, times, ids)."""
    if isinstance(value, str):
        for old, new in replacements:
            value = value.replace(old, new)
        value = _ISO_TIME.sub("2026-01-01T00:00:00Z", value)
        value = _DATE_WORDS.sub("Thu Jan 01 2026", value)
        value = _EPOCH_MS.sub("1767225600000", value)
        return _SES_ID.sub("ses_fixture", value)
    if isinstance(value, list):
        return [redact(v, replacements) for v in value]
    if isinstance(value, dict):
        return {k: redact(v, replacements) for k, v in value.items()}
    return value


def _turn_steps(requests: list[dict[str, Any]], turns: list[str]) -> list[tuple[int, int]]:
    """(turn, step) per request: a request whose latest user text is a new typed turn starts it."""
    out, turn, step = [], -1, 0
    for req in requests:
        text = json.dumps(req["body"])
        nxt = turn + 1
        if nxt < len(turns) and json.dumps(turns[nxt])[1:-1] in text:
            turn, step = nxt, 0
        else:
            step += 1
        out.append((max(turn, 0), step))
    return out


def session_fixture(record: dict[str, Any]) -> dict[str, Any]:
    """One raw captured session (capture_shapes.capture) -> its redacted fixture object."""
    scratch = record["scratch"]
    root = str(Path(scratch).parent)
    replacements = [(scratch + "/workspace", WORKSPACE), (scratch + "/home", HOME), (scratch, "/scratch"),
                    (root, "/scratch")]
    requests = [r for r in record["requests"] if r["body"].get("model") != "kilo-auto/small"]  # titles
    out = []
    for req, (turn, step) in zip(requests, _turn_steps(requests, record["turns"]), strict=True):
        headers = {k.lower(): v for k, v in req["headers"].items() if k.lower() in KEPT_HEADERS}
        headers.update({k: v for k, v in ID_HEADERS.items() if k in headers})
        out.append({"path": req["path"], "headers": redact(headers, replacements),
                    "body": redact(req["body"], replacements), "turn": turn, "step": step})
    apis = {api_of(r["path"]) for r in out}
    if len(apis) != 1:
        raise ValueError(f"{record['session']}: requests on several APIs {sorted(apis)}")
    return {"session": record["session"], "cli": KILO_VERSION, "model": record["model"],
            "agent": record["agent"], "api": apis.pop(), "turns": record["turns"], "requests": out}


def write_fixtures(records: list[dict[str, Any]], folder: Path) -> list[Path]:
    """Write one `<session>.json.xz` per captured session; returns the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for record in records:
        fixture = session_fixture(record)
        path = folder / f"{fixture['session']}.json.xz"
        data = json.dumps(fixture, indent=1, sort_keys=True, ensure_ascii=False).encode()
        path.write_bytes(lzma.compress(data, preset=9 | lzma.PRESET_EXTREME))
        paths.append(path)
    return paths


def read_fixture(path: Path) -> dict[str, Any]:
    """One fixture object (see the module docstring)."""
    return json.loads(lzma.decompress(Path(path).read_bytes()))


def read_fixtures(folder: Path = DEFAULT_DIR) -> dict[str, dict[str, Any]]:
    """Every fixture in `folder` by session name, e.g. "chat-code"."""
    return {p.name.removesuffix(".json.xz"): read_fixture(p) for p in sorted(Path(folder).glob("*.json.xz"))}
