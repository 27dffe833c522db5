"""`autotier accuracy eval`: onboard a model by running the per-route-key eval suite on it.

Each case of the suite (`data/eval_suite/`, `training.evalsuite.cases`) is sent to the
model through LiteLLM (the gateway's own `Upstream`, so any provider the catalog places,
or the mock upstream), graded automatically (`training.evalsuite.graders`), and written
as one JSON line to the model's outcome file, `data/accuracy/own_suite/<model>.jsonl`,
with its provenance (suite case hash, LiteLLM model, tokens, cost, time). A line is
appended as soon as its case is graded, so a run that is killed resumes where it stopped:
cases with an outcome for the same case text are skipped. `autotier accuracy build` folds
the outcome files in as measured evidence (`training.own_evidence`).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import hashlib
import json
import os
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from router.catalog import Model, load_catalog
from router.contract import ApiKind
from router.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[2]
OWN_SUITE_DIR = REPO_ROOT / "data" / "accuracy" / "own_suite"
MAX_ANSWER_CHARS = 4000  # kept in the outcome line, for reading failures later


def outcome_path(model_id: str, out_dir: Path = OWN_SUITE_DIR) -> Path:
    return out_dir / (model_id.replace("/", "__").replace(":", "_") + ".jsonl")


def case_hash(case: Any) -> str:
    """The case's content hash: an outcome counts only for the case text it graded."""
    text = json.dumps(dataclasses.asdict(case), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def read_outcomes(path: Path) -> list[dict[str, Any]]:
    """The outcome lines of a file (a torn last line, left by a kill mid-write, is skipped)."""
    if not path.exists():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict) and "case" in row and "passed" in row:
            rows.append(row)
    return rows


def _append(path: Path, row: dict[str, Any]) -> None:
    # One write of one whole line on an O_APPEND descriptor: a kill leaves whole lines.
    data = (json.dumps(row, ensure_ascii=False) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def _reply_text(result: Any) -> tuple[str, int, int]:
    """Text, input and output tokens of a LiteLLM chat completion."""
    choice = result.choices[0]
    text = getattr(choice.message, "content", None) or ""
    usage = getattr(result, "usage", None)
    return text, int(getattr(usage, "prompt_tokens", 0) or 0), int(getattr(usage, "completion_tokens", 0) or 0)


@dataclasses.dataclass
class Summary:
    model: str
    path: Path
    skipped: int = 0  # already graded before this run
    graded: int = 0
    errors: list[str] = dataclasses.field(default_factory=list)
    cost_usd: float = 0.0
    judge_cost_usd: float = 0.0
    tokens_in: int = 0
    tokens_out: int = 0
    seconds: float = 0.0

    def report(self, rows: Sequence[dict[str, Any]]) -> str:
        by_key: dict[str, list[bool]] = defaultdict(list)
        by_level: dict[str, list[bool]] = defaultdict(list)
        for r in rows:
            by_key[r["route_key"]].append(bool(r["passed"]))
            by_level[r["difficulty"]].append(bool(r["passed"]))
        lines = [f"{self.model}: {self.graded} graded now, {self.skipped} from an earlier run, "
                 f"{len(self.errors)} failed calls, {self.seconds:.1f}s -> {self.path}"]
        lines += [f"  {k:<44} {sum(v)}/{len(v)}" for k, v in sorted(by_key.items())]
        lines.append("  by difficulty: " + ", ".join(
            f"{d} {sum(by_level[d])}/{len(by_level[d])}" for d in ("low", "medium", "high") if d in by_level))
        total = sum(r["passed"] for r in rows)
        lines.append(f"  passed {total}/{len(rows)}; this run: {self.tokens_in} input + {self.tokens_out} output "
                     f"tokens, cost ${self.cost_usd:.4f} (catalog prices)"
                     + (f" + judge ${self.judge_cost_usd:.4f}" if self.judge_cost_usd else ""))
        lines += [f"  error: {e}" for e in self.errors[:5]]
        return "\n".join(lines)


async def run_eval(model: Model, cases: Sequence[Any], path: Path, upstream: Any, *, concurrency: int = 4,
                   judge: Model | None = None, max_tokens: int = 2048, progress: bool = True,
                   provenance: dict[str, Any] | None = None) -> Summary:
    """Ask `model` every case without an outcome yet in `path`, grade, append; returns the summary."""
    from training.evalsuite.graders import grade

    path.parent.mkdir(parents=True, exist_ok=True)
    done = {(r["case"], r.get("case_hash")) for r in read_outcomes(path) if r.get("model") == model.id}
    todo = [c for c in cases if (c.id, case_hash(c)) not in done]
    summary = Summary(model.id, path, skipped=len(cases) - len(todo))
    started = time.monotonic()
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(max(1, concurrency))
    bar = _progress(len(todo), model.id, progress)

    async def ask(target: Model, messages: list[dict[str, str]]) -> tuple[str, int, int, float]:
        begun = time.monotonic()
        result = await upstream.call(ApiKind.CHAT, target, {"messages": messages, "max_tokens": max_tokens}, False)
        text, tokens_in, tokens_out = _reply_text(result)
        return text, tokens_in, tokens_out, time.monotonic() - begun

    def judge_for(spent: list[float]) -> Callable[[str], str]:
        """The judge for one case's grading thread; its costs go to `spent`, which the case's
        coroutine adds to the summary once the thread is done (no shared state across threads)."""
        assert judge is not None

        def judge_call(prompt: str) -> str:
            text, tokens_in, tokens_out, _ = asyncio.run_coroutine_threadsafe(
                ask(judge, [{"role": "user", "content": prompt}]), loop).result()
            spent.append(judge.cost_usd(tokens_in, tokens_out) or 0.0)
            return text

        return judge_call

    async def one(case: Any) -> None:
        async with gate:
            messages = ([{"role": "system", "content": case.system}] if case.system else []) + [
                {"role": "user", "content": case.prompt}]
            try:
                answer, tokens_in, tokens_out, latency = await ask(model, messages)
            except Exception as exc:  # noqa: BLE001 - a failed call is reported and retried on the next run
                summary.errors.append(f"{case.id}: {type(exc).__name__}: {str(exc)[:200]}")
                bar(1)
                return
            spent: list[float] = []
            try:
                judging = judge_for(spent) if judge and case.judge else None
                verdict = await asyncio.to_thread(grade, case, answer, judging)
            except Exception as exc:  # noqa: BLE001 - e.g. the judge's call failed: retried on the next run
                summary.errors.append(f"{case.id}: grading failed: {type(exc).__name__}: {str(exc)[:200]}")
                bar(1)
                return
            finally:
                summary.judge_cost_usd += sum(spent)
            cost = model.cost_usd(tokens_in, tokens_out)
            summary.graded += 1
            summary.tokens_in += tokens_in
            summary.tokens_out += tokens_out
            summary.cost_usd += cost or 0.0
            _append(path, {
                "case": case.id, "case_hash": case_hash(case), "route_key": case.route_key,
                "difficulty": case.difficulty, "model": model.id, "passed": bool(verdict.passed),
                "score": float(verdict.score), "grader": verdict.grader, "detail": verdict.detail[:500],
                "judge": judge.id if judge and case.judge else None, "tokens_in": tokens_in,
                "tokens_out": tokens_out, "cost_usd": cost, "latency_s": round(latency, 3),
                "time": time.time(), "answer": answer[:MAX_ANSWER_CHARS], **(provenance or {}),
            })
            bar(1)

    await asyncio.gather(*(one(c) for c in todo))
    summary.seconds = time.monotonic() - started
    bar(0, close=True)
    return summary


def _progress(total: int, label: str, enabled: bool) -> Callable[..., None]:
    if not enabled or total == 0:
        return lambda n, close=False: None
    from tqdm import tqdm

    bar = tqdm(total=total, desc=label, unit="case", file=sys.stderr)

    def step(n: int, close: bool = False) -> None:
        bar.update(n)
        if close:
            bar.close()

    return step


def add_eval_parser(sub: Any) -> None:
    e = sub.add_parser("eval", help="run the per-route-key eval suite on one model (onboarding)")
    e.add_argument("--model", required=True, help="catalog model id, e.g. qwen/qwen3.6-plus")
    e.add_argument("--suite", type=Path, default=None, help="suite folder or file (default: data/eval_suite)")
    e.add_argument("--out", type=Path, default=None,
                   help="outcome file (default: data/accuracy/own_suite/<model>.jsonl)")
    e.add_argument("--catalog", type=Path, default=REPO_ROOT / "data" / "catalog.yaml")
    e.add_argument("--concurrency", type=int, default=4, help="cases in flight at once (default 4)")
    e.add_argument("--judge", metavar="MODEL", help="catalog model that judges planning/explanation cases")
    e.add_argument("--route-key", action="append", default=[], help="only these route keys (repeatable)")
    e.add_argument("--limit", type=int, help="at most N cases (after --route-key)")
    e.add_argument("--max-tokens", type=int, default=2048)
    e.add_argument("--timeout", type=float, default=300.0, help="per call, seconds")
    e.add_argument("--mock-upstream", metavar="URL", help="serve every model from this mock upstream")
    e.add_argument("--no-progress", action="store_true")


def eval_command(args: argparse.Namespace) -> int:
    from training.evalsuite.cases import DEFAULT_SUITE, load_suite, suite_hash

    catalog = load_catalog(args.catalog)
    missing = [m for m in (args.model, args.judge) if m and m not in catalog]
    if missing:
        raise ConfigError([f"{m!r} is not a catalog model ({args.catalog})" for m in missing])
    suite_path = args.suite or DEFAULT_SUITE
    cases = load_suite(suite_path)
    if args.route_key:
        cases = [c for c in cases if c.route_key in args.route_key]
    cases = cases[: args.limit] if args.limit else cases
    if not cases:
        print("no cases to run (check --route-key)", file=sys.stderr)
        return 2
    path = args.out or outcome_path(args.model)
    provenance = {"suite": str(suite_path), "suite_hash": suite_hash(cases),
                  "litellm_model": catalog[args.model].litellm_model if not args.mock_upstream else
                  f"mock:{args.mock_upstream}"}

    async def main() -> Summary:
        from router.gateway.upstream import Upstream, load_litellm

        upstream = Upstream(load_litellm(), args.mock_upstream, args.timeout, client="litellm")
        try:
            return await run_eval(catalog[args.model], cases, path, upstream, concurrency=args.concurrency,
                                  judge=catalog[args.judge] if args.judge else None, max_tokens=args.max_tokens,
                                  progress=not args.no_progress, provenance=provenance)
        finally:
            await upstream.close()

    summary = asyncio.run(main())
    wanted = {(c.id, case_hash(c)) for c in cases}
    rows = [r for r in read_outcomes(path) if (r["case"], r.get("case_hash")) in wanted and r["model"] == args.model]
    print(summary.report(rows))
    if summary.errors:
        print(f"{len(summary.errors)} case(s) failed to run; run the same command again to retry them",
              file=sys.stderr)
        return 1
    print("next: `autotier accuracy build` folds these outcomes into the production table")
    return 0
