"""What the gateway adds: latency, throughput, CPU and memory against one fast mock upstream.

    python benchmarks/gateway_overhead.py            # full run, about 10-15 minutes
    python benchmarks/gateway_overhead.py --quick    # smoke run, about 1-2 minutes
    python benchmarks/gateway_overhead.py --resummarise benchmarks/results/gateway_overhead.json
                                                     # recompute the summaries of a saved run
    python benchmarks/gateway_overhead.py --workers 2 --arms direct,autotier_rule
                                                     # the autotier arms with 2 worker processes

Four arms share ONE `autotier mock-upstream` process and are interleaved rate by rate, so
noise from the machine falls on all of them alike:

- `direct`: the load generator calls the mock itself (the floor: mock + loopback + client);
- `autotier_rule`: `autotier serve --mock-upstream URL`, `kilo-auto/frontier` with
  `x-kilocode-mode: code` (a rule-based tier) and a paid account's key;
- `autotier_efficient`: a second `autotier serve` process, `kilo-auto/efficient`;
- `litellm_proxy`: `litellm --config cfg.yaml` with one model group `bench` ->
  `openai/anthropic/claude-sonnet-4.6` at the mock (the model the rule arm resolves to).

The mock runs in two modes, 0 ms and a fixed 50 ms before answering, and every arm is
loaded with non-streaming and streaming chat completions. Load is open loop: requests
leave at fixed times whatever the answers do, and each latency runs from the request's
scheduled time (so a stalled server cannot hide its queue). The generator (`_load.py`, a
raw asyncio HTTP/1.1 keep-alive client on uvloop) runs in its own process; it is measured
alone against the mock first (`mock_alone`), up to rates far above what the gateways hold.

Per condition, rates step up (each step at least 4 s and 150 requests, after 1 s
unrecorded); an arm leaves the ladder at the first rate where its p99 exceeds the direct
arm's p99 at that rate by 50 ms, or more than 1% of its requests fail (failures count as
infinitely slow in the percentiles). The condition ends when only `direct` is left, so its
max rates there only say "at least" (its own limits are under `mock_alone`). Added
latency = arm minus direct at the same rate (for `direct` itself: minus the mock's
configured latency). CPU is read from /proc/PID/stat of each server process and its
children over the measured window; peak RSS is VmHWM.

Summary (`arms`) is the headline condition: mock 0 ms, streaming (what Kilo clients send).
`added_*` and `error_rate` are at a light reference rate (20/s; --quick: 10/s; with
--rates: the first), `cpu_ms_per_request` at the highest rate the arm held under 50 ms
added p99 (fixed costs amortised). The same figures for every condition are under
`by_condition`; every step's raw figures under `conditions`. `ratios_by_condition` gives,
per condition, the rule arm's added p99 over LiteLLM's at every rate both held (and the
worst of them). Writes
benchmarks/results/gateway_overhead.json (or --out).

The LiteLLM arm needs `litellm[proxy]`. When the project's .venv lacks it:

    python3 -m venv .cache/litellm-proxy-venv
    .cache/litellm-proxy-venv/bin/pip install 'litellm[proxy]==1.106.2'

The script uses .venv's `litellm` when its proxy packages are importable, else that one;
`--litellm-bin PATH` picks another; the arm is skipped (and said so) when none works.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _load_servers as servers_mod  # noqa: E402
from _load_servers import Server  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "gateway_overhead.json"
ARMS = ("direct", "autotier_rule", "autotier_efficient", "litellm_proxy")
UPSTREAM_MODEL = "anthropic/claude-sonnet-4.6"  # what kilo-auto/frontier resolves to in mode "code"
PROMPTS = [
    "Write a function that reverses a singly linked list in place and explain its complexity.",
    "Why does this Python code raise KeyError when the dict is built from a list of pairs?",
    "Refactor this class so that the database access is injected instead of created inside.",
    "Plan the migration of our REST endpoints from Flask to FastAPI without downtime.",
    "Add unit tests for the date parsing helper, including leap years and time zones.",
    "Explain what this regular expression matches: ^(?:[a-z0-9-]+\\.)+[a-z]{2,}$",
    "The CI job fails with 'ModuleNotFoundError: No module named yaml'. How do I fix it?",
    "Implement an LRU cache with O(1) get and put in TypeScript.",
]
SYSTEM = "You are a coding assistant working in the user's repository. Answer concisely."

FULL = {
    "conditions": [(0, True), (0, False), (50, True), (50, False)],
    "rates": [20, 30, 40, 60, 80, 100, 150, 200, 300, 400],
    "reference_rate": 20,
    "mock_alone_rates": [500, 1000, 2000, 3000, 4000],
    "warmup_s": 1.0, "duration_s": 4.0, "min_samples": 150, "warm_s": 5.0,
}
QUICK = {
    "conditions": [(0, True), (0, False)],
    "rates": [10, 30],
    "reference_rate": 10,
    "mock_alone_rates": [200, 1000],
    "warmup_s": 0.5, "duration_s": 2.0, "min_samples": 0, "warm_s": 2.0,
}
THRESHOLDS_MS = (10.0, 50.0)
MAX_ERROR_RATE = 0.01


def condition_name(latency_ms: int, stream: bool) -> str:
    return f"mock{latency_ms}ms_{'stream' if stream else 'nonstream'}"


def bodies(model: str, stream: bool) -> list[dict[str, Any]]:
    out = []
    for prompt in PROMPTS:
        messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": prompt}]
        body: dict[str, Any] = {"model": model, "stream": stream, "messages": messages}
        if stream:
            body["stream_options"] = {"include_usage": True}
        out.append(body)
    return out


def template(arm: str, server: Server, stream: bool) -> dict[str, Any]:
    """The request an arm sends: same messages everywhere, the arm's own model id and auth."""
    if arm == "direct":
        return {"path": "/v1/chat/completions", "headers": {"authorization": "Bearer mock"},
                "bodies": bodies(UPSTREAM_MODEL, stream), "stream": stream}
    if arm == "litellm_proxy":
        return {"path": "/v1/chat/completions", "headers": {"authorization": f"Bearer {server.extra['key']}"},
                "bodies": bodies(server.extra["group"], stream), "stream": stream}
    model = "kilo-auto/frontier" if arm == "autotier_rule" else "kilo-auto/efficient"
    headers = {"authorization": f"Bearer {server.extra['key']}", "x-kilocode-mode": "code",
               "x-kilocode-taskid": "bench-task-{i}"}
    return {"path": "/v1/chat/completions", "headers": headers, "bodies": bodies(model, stream),
            "variants": 64, "stream": stream}


def step(arm: str, server: Server, mock: Server, rate: float, stream: bool, plan: dict[str, Any],
         workdir: Path) -> dict[str, Any]:
    watched = [mock] if arm == "direct" else [server, mock]
    # At least `min_samples` requests per step, so that a p99 is not simply the maximum.
    duration_s = max(plan["duration_s"], plan.get("min_samples", 0) / rate)
    spec = {"port": server.port, "rate": rate, "warmup_s": plan["warmup_s"], "duration_s": duration_s,
            "templates": [template(arm, server, stream)], "max_connections": 128, "abort_after_s": 1.0,
            "drain_s": 3.0}
    result = servers_mod.run_step(spec, watched, workdir)
    result["settle_s"] = servers_mod.settle(watched)
    own = result["servers"][server.name]
    return {
        "arm": arm, "rate": rate, "stream": stream,
        "latency_ms": result["latency_ms"], "ttfb_ms": result["ttfb_ms"], "send_lag_ms": result["send_lag_ms"],
        "ok": result["ok"], "errors": result["errors"], "error_rate": result["error_rate"],
        "aborted": result["aborted"], "achieved_rps": result["achieved_rps"],
        "cpu_ms_per_request": own["cpu_ms_per_request"], "cpu_util": own["cpu_util"], "rss_mb": own["rss_mb"],
        "mock_cpu_util": result["servers"]["mock"]["cpu_util"],
        "mock_cpu_ms_per_request": result["servers"]["mock"]["cpu_ms_per_request"],
        "generator_cpu_util": result["generator_cpu_util"], "connections_opened": result["connections_opened"],
        "settle_s": result["settle_s"],
    }


def warm_up(arms: dict[str, Server], mock: Server, seconds: float, workdir: Path, log: Any) -> None:
    """Unrecorded traffic to every arm, streaming and not: the first calls through LiteLLM
    import and build a lot lazily (tens of ms each), which is start-up, not overhead."""
    servers_mod.configure_mock(mock, {"default": {"latency_ms": 0}})
    for arm, server in arms.items():
        spec = {"port": server.port, "rate": 20, "warmup_s": 0, "duration_s": seconds,
                "templates": [template(arm, server, True), template(arm, server, False)],
                "max_connections": 32, "abort_after_s": 5.0, "drain_s": 10.0}
        result = servers_mod.run_step(spec, [server], workdir)
        servers_mod.settle([server, mock])
        log(f"  warm-up {arm:19} {result['ok']} ok, errors {result['errors'] or 'none'}")


def _added(value: float | None, base: float | None) -> float | None:
    return None if value is None or base is None else round(value - base, 3)


def held(entry: dict[str, Any], threshold_ms: float) -> bool:
    return (entry["added_p99_ms"] is not None and entry["added_p99_ms"] < threshold_ms
            and entry["error_rate"] <= MAX_ERROR_RATE)


def run_condition(latency_ms: int, stream: bool, arms: dict[str, Server], mock: Server, plan: dict[str, Any],
                  workdir: Path, log: Any) -> list[dict[str, Any]]:
    """Step the rate up, all remaining arms interleaved at each rate (order rotated per rate)."""
    servers_mod.configure_mock(mock, {"default": {"latency_ms": latency_ms}})
    active = [a for a in ARMS if a in arms]
    steps: list[dict[str, Any]] = []
    for index, rate in enumerate(plan["rates"]):
        if len(active) <= 1 and "direct" in active and len(arms) > 1:
            break
        others = [a for a in active if a != "direct"]
        shift = index % max(1, len(others))
        order = ["direct", *others[shift:], *others[:shift]]  # direct first: the others subtract it
        at_rate: dict[str, dict[str, Any]] = {}
        for arm in order:
            entry = step(arm, arms[arm], mock, rate, stream, plan, workdir)
            at_rate[arm] = entry
            base = at_rate["direct"]["latency_ms"] if arm != "direct" else None
            p50 = entry["latency_ms"]["p50"]
            p99 = entry["latency_ms"]["p99"]
            if arm == "direct":
                entry["added_p50_ms"] = _added(p50, latency_ms)
                entry["added_p99_ms"] = _added(p99, latency_ms)
            else:
                entry["added_p50_ms"] = _added(p50, base["p50"] if base else None)
                entry["added_p99_ms"] = _added(p99, base["p99"] if base else None)
            steps.append(entry)
            log(f"  {condition_name(latency_ms, stream):22} {arm:19} {rate:6g}/s  p50 {_fmt(p50)}  p99 {_fmt(p99)}"
                f"  added p99 {_fmt(entry['added_p99_ms'])}  err {entry['error_rate']:.3f}"
                f"  cpu {_fmt(entry['cpu_ms_per_request'])} ms/req  util {entry['cpu_util']:.2f}"
                f"  mock {entry['mock_cpu_util']:.2f}  gen {entry['generator_cpu_util']:.2f}")
        if not held(at_rate["direct"], THRESHOLDS_MS[-1]):
            log("  the direct arm itself failed: mock or generator saturated; stopping this condition")
            break
        active = ["direct", *[a for a in others if held(at_rate[a], THRESHOLDS_MS[-1])]]
    return steps


def _fmt(value: float | None) -> str:
    return "   -   " if value is None else f"{value:7.2f}"


def summarise(steps: list[dict[str, Any]], arm: str, rates: list[float], peak_rss: float | None,
              reference_rate: float | None = None) -> dict[str, Any]:
    mine = {s["rate"]: s for s in steps if s["arm"] == arm}
    if not mine:
        return {}
    out: dict[str, Any] = {}
    for threshold in THRESHOLDS_MS:
        best = None
        for rate in rates:  # the ladder held from the bottom up
            entry = mine.get(rate)
            if entry is None or not held(entry, threshold):
                break
            best = rate
        out[f"max_rate_p99_{int(threshold)}ms"] = best
    reference = mine.get(reference_rate if reference_rate is not None else rates[0]) or mine.get(rates[0]) \
        or next(iter(mine.values()))
    busiest = mine.get(out["max_rate_p99_50ms"]) if out["max_rate_p99_50ms"] else reference
    return {
        "added_p50_ms": reference["added_p50_ms"], "added_p99_ms": reference["added_p99_ms"],
        **out,
        "error_rate": reference["error_rate"],
        "cpu_ms_per_request": busiest["cpu_ms_per_request"],
        "peak_rss_mb": peak_rss,
        "reference_rate": reference["rate"], "cpu_measured_at_rate": busiest["rate"],
        "capped_by_ladder": out["max_rate_p99_50ms"] == rates[-1],
        **({"note": "added = latency minus the mock's configured delay; max rates only as far as "
                    "the other arms went (see mock_alone)"} if arm == "direct" else {}),
    }


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else round(a / b, 3)


def mock_alone(mock: Server, plan: dict[str, Any], workdir: Path, log: Any) -> dict[str, Any]:
    """The mock and the generator by themselves, 0 ms mode, up to rates no gateway reaches."""
    servers_mod.configure_mock(mock, {"default": {"latency_ms": 0}})
    out: dict[str, Any] = {}
    for stream in (True, False):
        steps = []
        for rate in plan["mock_alone_rates"]:
            entry = step("direct", mock, mock, rate, stream, plan, workdir)
            entry["added_p50_ms"] = entry["latency_ms"]["p50"]
            entry["added_p99_ms"] = entry["latency_ms"]["p99"]
            steps.append(entry)
            kind = "stream" if stream else "nonstream"
            log(f"  mock alone {kind:9} {rate:6g}/s  p50 {_fmt(entry['latency_ms']['p50'])}"
                f"  p99 {_fmt(entry['latency_ms']['p99'])}  err {entry['error_rate']:.3f}"
                f"  mock util {entry['cpu_util']:.2f}  gen util {entry['generator_cpu_util']:.2f}")
            if not held(entry, THRESHOLDS_MS[-1]):
                break
        summary = summarise(steps, "direct", plan["mock_alone_rates"], None)
        gen = [s["generator_cpu_util"] / s["achieved_rps"] * 1000 for s in steps if s["achieved_rps"]]
        out["stream" if stream else "nonstream"] = {
            "max_rate_p99_10ms": summary.get("max_rate_p99_10ms"),
            "max_rate_p99_50ms": summary.get("max_rate_p99_50ms"),
            "mock_cpu_ms_per_request": min((s["cpu_ms_per_request"] for s in steps if s["cpu_ms_per_request"]),
                                           default=None),
            "generator_cpu_ms_per_request": round(min(gen), 4) if gen else None,
            "generator_ceiling_rps_one_core": round(1000 / min(gen)) if gen else None,
            "steps": steps,
        }
    return out


def start_arms(wanted: list[str], mock: Server, workdir: Path, litellm_bin: Path | None,
               stack: contextlib.ExitStack, log: Any, workers: int = 1) -> dict[str, Server]:
    """Start the gateways (`--workers workers` each) and the LiteLLM proxy side by side
    (start-up is mostly imports); each is stopped by `stack`, even when another fails to start."""
    flags = ("--workers", str(workers))
    starters = {name: (lambda n=name: servers_mod.start_gateway(n, mock, workdir, *flags))
                for name in ("autotier_rule", "autotier_efficient") if name in wanted}
    if "litellm_proxy" in wanted:
        assert litellm_bin is not None
        starters["litellm_proxy"] = lambda: servers_mod.start_litellm_proxy(litellm_bin, mock, workdir, UPSTREAM_MODEL)
    started: dict[str, Server] = {}
    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=max(1, len(starters))) as pool:
        futures = {name: pool.submit(start) for name, start in starters.items()}
        errors = []
        for name, future in futures.items():
            try:
                started[name] = future.result()
                stack.callback(started[name].stop)
            except Exception as exc:  # noqa: BLE001 - reported after the others are registered for stopping
                errors.append(f"{name}: {exc}")
    if errors:
        raise RuntimeError("; ".join(errors))
    log(f"servers up in {time.monotonic() - t0:.1f}s: " + ", ".join(f"{n} {s.url}" for n, s in started.items()))
    return started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short smoke run (~1-2 minutes)")
    parser.add_argument("--arms", default=",".join(ARMS), help=f"comma-separated subset of {','.join(ARMS)}")
    parser.add_argument("--rates", help="comma-separated rate ladder (requests/s), overrides the mode's")
    parser.add_argument("--mock-alone-rates", help="comma-separated rates for the mock-alone probe ('' to skip)")
    parser.add_argument("--duration", type=float, help="measured seconds per step")
    parser.add_argument("--litellm-bin", type=Path, help="the `litellm` executable of an env with litellm[proxy]")
    parser.add_argument("--workers", type=int, default=1, metavar="N",
                        help="`autotier serve --workers N` for the autotier arms (default 1)")
    parser.add_argument("--conditions", help="comma-separated subset of the mode's conditions, e.g. "
                                             "mock0ms_stream,mock0ms_nonstream")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--resummarise", type=Path, metavar="JSON",
                        help="recompute the summary keys of an earlier results file from its raw steps "
                             "(no servers started) and write it to --out")
    args = parser.parse_args(argv)
    if args.resummarise:
        report = json.loads(args.resummarise.read_text())
        peak = {arm: s.get("peak_rss_mb") for arm, s in report["arms"].items()}
        report.update(summaries(report["conditions"], report["plan"], peak))
        args.out.write_text(json.dumps(report, indent=2) + "\n")
        print_summary(report, print)
        return 0

    plan = dict(QUICK if args.quick else FULL)
    if args.rates:
        plan["rates"] = [float(r) for r in args.rates.split(",")]
        plan["reference_rate"] = plan["rates"][0]
    if args.mock_alone_rates is not None:
        plan["mock_alone_rates"] = [float(r) for r in args.mock_alone_rates.split(",") if r.strip()]
    if args.duration:
        plan["duration_s"], plan["min_samples"] = args.duration, 0
    if args.conditions:
        chosen = args.conditions.split(",")
        plan["conditions"] = [c for c in FULL["conditions"] if condition_name(*c) in chosen]
        if len(plan["conditions"]) != len(chosen):
            parser.error(f"--conditions: unknown in {chosen}")
    wanted = [a for a in args.arms.split(",") if a]
    unknown = set(wanted) - set(ARMS)
    if unknown or "direct" not in wanted:
        parser.error(f"--arms: must include direct; unknown {sorted(unknown)}")

    def log(line: str) -> None:
        print(line, flush=True)

    # SIGTERM (e.g. `timeout`) unwinds like Ctrl-C, so every started server is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    facts = servers_mod.machine_facts()
    started = time.monotonic()
    notes: list[str] = []
    litellm_bin = args.litellm_bin
    if "litellm_proxy" in wanted:
        litellm_bin = litellm_bin or servers_mod.default_litellm_bin()
        if litellm_bin is None or not servers_mod.proxy_usable(litellm_bin):
            notes.append(f"litellm_proxy skipped: no litellm with the proxy extras ({litellm_bin or 'none found'})")
            log(notes[-1])
            wanted.remove("litellm_proxy")

    with tempfile.TemporaryDirectory(prefix="autotier-overhead-") as tmp, contextlib.ExitStack() as stack:
        workdir = Path(tmp)
        log(f"starting servers in {workdir}")
        mock = servers_mod.start_mock(workdir)
        stack.callback(mock.stop)
        arms: dict[str, Server] = {"direct": mock}
        arms.update(start_arms(wanted, mock, workdir, litellm_bin, stack, log, args.workers))
        warm_up(arms, mock, plan["warm_s"], workdir, log)
        alone = mock_alone(mock, plan, workdir, log) if plan["mock_alone_rates"] else {}
        conditions: dict[str, Any] = {}
        for latency_ms, stream in plan["conditions"]:
            name = condition_name(latency_ms, stream)
            log(f"condition {name}")
            conditions[name] = {"mock_latency_ms": latency_ms, "stream": stream,
                                "steps": run_condition(latency_ms, stream, arms, mock, plan, workdir, log)}
        peak = {name: round(servers_mod.peak_rss_mb(server.pid), 1) for name, server in arms.items()}
        versions = _versions(litellm_bin)

    facts["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    report = {
        "command": "python benchmarks/gateway_overhead.py" + (" " + " ".join(argv or sys.argv[1:])).rstrip(),
        "mode": "quick" if args.quick else "full",
        "autotier_workers": args.workers,
        **summaries(conditions, plan, peak),
        "machine": facts,
        "versions": versions,
        "mock_alone": alone,
        "plan": {**plan, "conditions": [condition_name(*c) for c in plan["conditions"]],
                 "thresholds_ms": list(THRESHOLDS_MS), "max_error_rate": MAX_ERROR_RATE},
        "conditions": conditions,
        "notes": notes,
        "wall_s": round(time.monotonic() - started, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    log(f"\nwrote {args.out} in {report['wall_s']:.0f}s")
    print_summary(report, log)
    return 0


def summaries(conditions: dict[str, Any], plan: dict[str, Any], peak: dict[str, float]) -> dict[str, Any]:
    """The report's summary keys (`headline_condition`, `arms`, `ratios`, `by_condition`,
    `ratios_by_condition`) from the raw steps of every condition."""
    by_condition = {
        name: {arm: summarise(c["steps"], arm, plan["rates"], peak.get(arm), plan["reference_rate"])
               for arm in dict.fromkeys(s["arm"] for s in c["steps"])}
        for name, c in conditions.items()
    }
    headline = next(iter(conditions))
    summary = by_condition[headline]
    rule, lite = summary.get("autotier_rule", {}), summary.get("litellm_proxy", {})
    return {
        "headline_condition": headline,
        "arms": summary,
        "ratios": {
            "added_p99_vs_litellm": _ratio(rule.get("added_p99_ms"), lite.get("added_p99_ms")),
            "max_rate_vs_litellm": _ratio(rule.get("max_rate_p99_50ms"), lite.get("max_rate_p99_50ms")),
            "max_rate_p99_10ms_vs_litellm": _ratio(rule.get("max_rate_p99_10ms"), lite.get("max_rate_p99_10ms")),
            "cpu_per_request_vs_litellm": _ratio(rule.get("cpu_ms_per_request"), lite.get("cpu_ms_per_request")),
            "peak_rss_vs_litellm": _ratio(rule.get("peak_rss_mb"), lite.get("peak_rss_mb")),
        },
        "by_condition": by_condition,
        "ratios_by_condition": {name: shared_load_ratios(c["steps"]) for name, c in conditions.items()},
    }


def shared_load_ratios(steps: list[dict[str, Any]], arm: str = "autotier_rule",
                       reference: str = "litellm_proxy") -> dict[str, Any]:
    """Added p99 of `arm` over `reference`'s at every rate both held (p99 within 50 ms of
    the direct arm's, errors within the limit): the issue's "at every load both can hold"."""
    at = {(s["arm"], s["rate"]): s for s in steps}
    by_rate = {}
    for (name, rate), entry in at.items():
        other = at.get((reference, rate))
        if name == arm and other and held(entry, THRESHOLDS_MS[-1]) and held(other, THRESHOLDS_MS[-1]):
            by_rate[str(rate)] = _ratio(entry["added_p99_ms"], other["added_p99_ms"])
    finite = [r for r in by_rate.values() if r is not None]
    return {"added_p99_ratio_by_rate": by_rate, "worst": max(finite) if finite else None}


def print_summary(report: dict[str, Any], log: Any) -> None:
    log(f"headline ({report['headline_condition']})")
    for arm, s in report["arms"].items():
        if s:
            log(f"  {arm:19} added p50 {_fmt(s['added_p50_ms'])} p99 {_fmt(s['added_p99_ms'])} ms"
                f"  max rate p99<10ms {s['max_rate_p99_10ms']}  <50ms {s['max_rate_p99_50ms']}"
                f"  cpu {_fmt(s['cpu_ms_per_request'])} ms/req  peak rss {s['peak_rss_mb']} MiB")
    log(f"  ratios {report['ratios']}")
    for name, shared in report["ratios_by_condition"].items():
        log(f"  {name:20} rule/LiteLLM added p99 at rates both held: worst {shared['worst']}"
            f"  {shared['added_p99_ratio_by_rate']}")


def _versions(litellm_bin: Path | None) -> dict[str, str]:
    import importlib.metadata as md

    out = {}
    for name in ("litellm", "fastapi", "uvicorn", "starlette"):
        with contextlib.suppress(md.PackageNotFoundError):
            out[name] = md.version(name)
    if litellm_bin is not None:
        out["litellm_proxy_bin"] = str(litellm_bin)
    return out


if __name__ == "__main__":
    raise SystemExit(main())
