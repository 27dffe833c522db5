"""`autotier classify --input IN.jsonl --output OUT.jsonl`: classify requests in bulk.

Each input line is a JSON object with `prompt` (string) or `messages` (chat list; the
Responses `input` and Anthropic shapes work too) and optional `mode`. Each output line
repeats the input's other fields and adds task_type, subtype, route_key, difficulty,
confidence, route_probs, difficulty_probs and task_type_probs. `-` means stdin/stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

from classifier.errors import ClassifierError, RequestError
from classifier.features import parse_request

REQUEST_KEYS = ("prompt", "messages", "input", "instructions", "system", "tools", "mode")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="autotier classify", description=__doc__.split("\n\n")[0])
    ap.add_argument("--input", required=True, help="JSONL of requests ('-' for stdin)")
    ap.add_argument("--output", required=True, help="JSONL to write ('-' for stdout)")
    ap.add_argument("--model", default=None, help="artefact folder or models:/ URI (default: the shipped artefact)")
    ap.add_argument("--batch-size", type=int, default=256)
    return ap


@contextmanager
def _open(path: str, mode: str) -> Iterator[IO[str]]:
    if path == "-":
        yield sys.stdin if "r" in mode else sys.stdout
    else:
        with open(path, mode, encoding="utf-8") as fh:
            yield fh


def read_requests(fh: IO[str], name: str) -> list[dict[str, Any]]:
    """JSONL request rows (`prompt`, `messages` or `input`); ClassifierError names file:line."""
    rows = []
    for line_no, line in enumerate(fh, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ClassifierError(f"{name}:{line_no}: not valid JSON ({exc.msg})") from exc
        if not isinstance(row, dict) or not any(k in row for k in ("prompt", "messages", "input")):
            raise ClassifierError(f"{name}:{line_no}: needs 'prompt' or 'messages'")
        rows.append(row)
    return rows


def predict_rows(clf: Any, rows: list[dict[str, Any]], batch_size: int = 256) -> list[Any]:
    """A Prediction per row, or the RequestError of a row with no user text (one bad line
    must not sink the file); the rows' request fields are classified in batches."""
    requests = [{k: r[k] for k in REQUEST_KEYS if k in r} for r in rows]
    out: list[Any] = [None] * len(rows)
    good = []
    for i, request in enumerate(requests):
        try:
            parse_request(request)
            good.append(i)
        except RequestError as exc:
            out[i] = exc
    for i, prediction in zip(good, clf.predict_many([requests[i] for i in good], batch_size=batch_size), strict=True):
        out[i] = prediction
    return out


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from classifier.model import load

    try:
        with _open(args.input, "r") as fh:
            rows = read_requests(fh, args.input)
        clf = load(args.model)
    except (ClassifierError, OSError) as exc:
        print(f"autotier classify: {getattr(exc, 'code', 'error')}: {exc}", file=sys.stderr)
        return 2
    predictions = predict_rows(clf, rows, batch_size=args.batch_size)
    results = [{"error": f"{p.code}: {p}"} if isinstance(p, RequestError) else p.to_dict() for p in predictions]
    with _open(args.output, "w") as out:
        for row, res in zip(rows, results, strict=True):
            out.write(json.dumps({**row, **res}, ensure_ascii=False) + "\n")
    failed = sum(isinstance(p, RequestError) for p in predictions)
    print(
        f"classified {len(rows) - failed} request(s) -> {args.output}"
        + (f"; {failed} line(s) had no user text (see 'error')" if failed else ""),
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
