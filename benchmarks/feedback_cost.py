"""What feedback bookkeeping and request capture add to writing a request's usage row.

    python benchmarks/feedback_cost.py [--n 2000]

Since issue 15 the gateway writes a usage row through `Gateway.write_row` (on a worker
thread): it parses the request once (`classifier.session.parse_request`) for the request
hash that detects retries, looks for the implicit signals (an earlier identical request, a
model switched by hand) in the row's own transaction, and, when sampled, stores the
redacted user text. Timed per request, interleaved, on a SQLite ledger, with a Kilo-CLI
shaped mid-session chat request (system prompt, tools, tool turns; training/shapes.py):

- A: `Ledger.record(row)` alone (what the gateway did before);
- B: `Gateway.write_row` with capture off (the default);
- C: `Gateway.write_row` with capture on for every request (`--capture-rate 1`);

and the redaction a capture runs (`router.gateway.capture.redact`) on 8,000 characters (the
capture's cap) of this repository's own code with a few secrets mixed in.

Writes benchmarks/results/feedback_cost.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from router.contract import ApiKind
from router.gateway import feedback
from router.gateway.accounts import UsageRow
from router.gateway.handlers import Trace
from training.shapes import wrap

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support.offline_gateway import offline_gateway  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "feedback_cost.json"
PROMPT = "Now add retry with exponential backoff to the upstream client and cover it with a test."


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _summary(values: list[float]) -> dict[str, float]:
    return {"p50_ms": round(statistics.median(values), 4), "p99_ms": round(_pct(values, 0.99), 4),
            "mean_ms": round(statistics.fmean(values), 4)}


def measure(n: int) -> dict[str, object]:
    body = wrap(PROMPT, "chat_mid", mode="code")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        plain, off, on = (offline_gateway(folder / f"{name}.db", capture_rate=rate)
                          for name, rate in (("a", 0.0), ("b", 0.0), ("c", 1.0)))
        account, _ = plain.ledger.create_account(1e9)
        times: dict[str, list[float]] = {"A_record_only": [], "B_write_row_capture_off": [],
                                         "C_write_row_capture_on": []}
        for i in range(n + n // 10):
            row = UsageRow(account.id, "chat", "efficient", "kilo-auto/efficient", "deepseek/deepseek-v3.2", (),
                           4000, 200, 0.001, 900.0, 200, "code", f"bench-{i % 50}", ("messages", "model"))
            for name, gateway in (("A_record_only", None), ("B_write_row_capture_off", off),
                                  ("C_write_row_capture_on", on)):
                started = time.perf_counter()
                if gateway is None:
                    plain.ledger.record(row)
                else:
                    trace = Trace(api=ApiKind.CHAT, started=0.0, caller=f"account:{account.id}", body=body)
                    gateway.write_row(trace, dataclasses.replace(row, response_id=trace.response_id), None,
                                      feedback.Observed())
                if i >= n // 10:  # the first tenth warms up
                    times[name].append((time.perf_counter() - started) * 1000)
        for g in (plain, off, on):
            g.ledger.close()
    out: dict[str, object] = {"requests": n, "request_chars": len(json.dumps(body))}
    out.update({k: _summary(v) for k, v in times.items()})
    base = statistics.median(times["A_record_only"])
    out["added_p50_ms"] = {k: round(statistics.median(v) - base, 4) for k, v in times.items() if k[0] != "A"}
    out["redact_8000_chars"] = _summary(_redaction_times(max(50, n // 10)))
    return out


def _redaction_times(n: int) -> list[float]:
    from router.gateway.capture import redact

    code = (Path(__file__).resolve().parents[1] / "router" / "gateway" / "handlers.py").read_text()
    secrets = ("\nOPENAI_API_KEY=sk-proj-4f8Jd93kLm2Qx7Zt1Vb6Nc0Rw5Ye8Ua3\n"
               "db = 'postgres://app:Pr0dPassw0rd@10.1.2.3/app'  # mail ops@example.com\n")
    text = (code[:3000] + secrets + code[3000:])[:8000]
    times = []
    for _ in range(n):
        started = time.perf_counter()
        redact(text)
        times.append((time.perf_counter() - started) * 1000)
    return times


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    results = measure(args.n)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
