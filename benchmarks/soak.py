"""Soak: the gateway under steady mixed load with upstream faults and client disconnects.

    python benchmarks/soak.py                 # 30 minutes (plus ~1 minute of start-up and idle checks)
    python benchmarks/soak.py --minutes 3     # a short validation run

One `autotier mock-upstream` and one `autotier serve --mock-upstream URL` process. The
load (`_load.py`, open loop, its own process) mixes the three APIs, streaming and not,
paid and anonymous tiers: frontier chat (stream, mode code), frontier chat (mode plan),
balanced Responses (stream), balanced Messages (stream), free chat (stream, anonymous),
efficient chat (stream); sessions cycle over 500 ids, so the session map is exercised
but bounded. 1% of streamed requests are dropped by the client after their first bytes.

Upstream faults (the mock's /_mock/config, changed while the load runs):
- 5% of upstream calls fail with an HTTP error (`error_rate` 0.05); the status rotates
  every 10 s through 500, 429 (Retry-After 1 s), 503, 502, 529, 408;
- every 30 s, for 1 s, every upstream stream is cut after its second event;
- every 60 s, for 1 s, every upstream call hangs until the gateway gives up
  (`--upstream-timeout 3`).
Streams are paced (10 ms to the first event, 5 ms between events) so that cuts and client
disconnects land mid-stream. The gateway runs with `--cooldown 1` so that a 5% error rate
causes fallbacks without taking whole tiers out for 30 s at a time.

Every `--sample-every` seconds: the gateway's RSS, open file descriptors and OS threads
(/proc/PID) and its asyncio task count (`autotier_event_loop_tasks` on /metrics). Memory growth is the
least-squares slope of RSS over time after the warm-up (MiB/min). Descriptors and tasks
are also read before the load and after it, once the gateway is idle again: a leak shows
as "after" well above "before". Writes benchmarks/results/soak.json (or --out).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _load_servers as servers_mod  # noqa: E402
from _load_servers import Server  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "soak.json"
FAULT_STATUSES = (500, 429, 503, 502, 529, 408)
BASE_BEHAVIOUR = {"latency_ms": 2.0, "ttft_ms": 10.0, "chunk_delay_ms": 5.0, "error_rate": 0.05,
                  "retry_after_s": 1.0}
TASKS_LINE = re.compile(rb"^autotier_event_loop_tasks (\S+)$", re.MULTILINE)
PROMPT = "Find why the retry loop in fetch_pages never stops when the server returns 429."


def traffic(key: str) -> list[dict[str, Any]]:
    """The request mix: (path, headers, body, stream, weight) for each kind."""
    paid = {"authorization": f"Bearer {key}", "x-kilocode-taskid": "soak-{i}"}
    anon = {"x-kilocode-taskid": "soak-anon-{i}", "x-kilocode-machineid": "soak-machine-{i}"}
    chat = [{"role": "system", "content": "You are a coding assistant."}, {"role": "user", "content": PROMPT}]

    def chat_body(model: str, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {"model": model, "stream": stream, "messages": chat}
        if stream:
            body["stream_options"] = {"include_usage": True}
        return body

    code, plan = {**paid, "x-kilocode-mode": "code"}, {**paid, "x-kilocode-mode": "plan"}
    rows = [
        ("/v1/chat/completions", code, chat_body("kilo-auto/frontier", True), True, 30),
        ("/v1/chat/completions", plan, chat_body("kilo-auto/frontier", False), False, 15),
        ("/v1/responses", paid, {"model": "kilo-auto/balanced", "stream": True, "input": PROMPT}, True, 15),
        ("/v1/messages", paid, {"model": "kilo-auto/balanced", "stream": True, "max_tokens": 256,
                                "messages": [{"role": "user", "content": PROMPT}]}, True, 15),
        ("/api/openrouter/chat/completions", anon, chat_body("kilo-auto/free", True), True, 15),
        ("/v1/chat/completions", code, chat_body("kilo-auto/efficient", True), True, 10),
    ]
    return [{"path": p, "headers": h, "bodies": [b], "stream": s, "weight": w, "variants": 500}
            for p, h, b, s, w in rows]


def fault_at(t: float) -> dict[str, Any]:
    """The mock's default behaviour for second `t` of the run."""
    behaviour: dict[str, Any] = {**BASE_BEHAVIOUR, "error_status": FAULT_STATUSES[int(t // 10) % len(FAULT_STATUSES)],
                                 "cut_mid_stream_after": None, "timeout": False}
    if t % 30 >= 29:
        behaviour["cut_mid_stream_after"] = 2
    if t % 60 >= 59:
        behaviour["timeout"] = True
    return behaviour


def tasks(gateway: Server) -> float | None:
    try:
        status, body = servers_mod.http_get(gateway.url + "/metrics", timeout_s=5)
    except OSError:
        return None
    match = TASKS_LINE.search(body) if status == 200 else None
    return float(match.group(1)) if match else None


def snapshot(gateway: Server, t0: float) -> dict[str, Any]:
    return {"t_s": round(time.monotonic() - t0, 1), "rss_mb": round(servers_mod.rss_mb(gateway.pid), 2),
            "fds": servers_mod.open_fds(gateway.pid), "tasks": tasks(gateway),
            "threads": servers_mod.threads(gateway.pid),
            "cpu_s": round(gateway.cpu_s(), 2)}


def slope_per_minute(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, MiB) points, in MiB per minute."""
    if len(points) < 3:
        return None
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    var = sum((x - mx) ** 2 for x, _ in points)
    if var == 0:
        return None
    return round(60 * sum((x - mx) * (y - my) for x, y in points) / var, 4)


def idle_snapshot(gateway: Server, mock: Server, t0: float) -> dict[str, Any]:
    servers_mod.settle([gateway, mock], max_s=15)
    time.sleep(2)
    return snapshot(gateway, t0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="duration of the load (default 30)")
    parser.add_argument("--rate", type=float, default=25.0, help="requests per second (default 25)")
    parser.add_argument("--sample-every", type=float, default=5.0, help="seconds between samples")
    parser.add_argument("--warmup-minutes", type=float, help="excluded from the growth slope "
                        "(default: 5, or a fifth of a shorter run)")
    parser.add_argument("--disconnect-rate", type=float, default=0.01, help="share of streams the client drops")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    duration_s = args.minutes * 60
    warmup_s = 60 * (args.warmup_minutes if args.warmup_minutes is not None else min(5.0, args.minutes / 5))

    def log(line: str) -> None:
        print(line, flush=True)

    # SIGTERM (e.g. `timeout`) unwinds like Ctrl-C, so every started server is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    facts = servers_mod.machine_facts()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="autotier-soak-") as tmp, ExitStack() as stack:
        workdir = Path(tmp)
        mock = servers_mod.start_mock(workdir)
        stack.callback(mock.stop)
        gateway = servers_mod.start_gateway(
            "gateway", mock, workdir, "--cooldown", "1", "--upstream-timeout", "3",
            "--anonymous-per-hour", "100000000")
        stack.callback(gateway.stop)
        log(f"mock {mock.url}, gateway {gateway.url} (pid {gateway.pid}); {args.minutes:g} min at {args.rate:g}/s")
        servers_mod.configure_mock(mock, {"seed": 7, "default": fault_at(0)})
        t0 = time.monotonic()
        before = snapshot(gateway, t0)
        log(f"before: {before}")

        spec = {"port": gateway.port, "rate": args.rate, "warmup_s": 0, "duration_s": duration_s,
                "templates": traffic(gateway.extra["key"]), "disconnect_rate": args.disconnect_rate,
                "max_connections": 512, "abort_after_s": 1e9, "drain_s": 30.0, "seed": 11}
        spec_path = workdir / "soak.json"
        spec_path.write_text(json.dumps(spec))
        load_log = workdir / "load.log"
        with load_log.open("w") as errors_out:
            load = subprocess.Popen([sys.executable, str(servers_mod.LOAD_SCRIPT), str(spec_path)],
                                    stdout=subprocess.PIPE, stderr=errors_out, text=True, start_new_session=True)
        stack.callback(lambda: load.poll() is None and os.killpg(load.pid, signal.SIGKILL))
        samples: list[dict[str, Any]] = []
        fault_changes = 0
        current_fault = fault_at(0)
        load_t0 = time.monotonic()
        next_sample = load_t0
        while load.poll() is None:
            now = time.monotonic()
            fault = fault_at(now - load_t0)
            if fault != current_fault:
                servers_mod.http_send("PATCH", mock.url + "/_mock/config", {"default": fault})
                current_fault, fault_changes = fault, fault_changes + 1
            if now >= next_sample:
                point = snapshot(gateway, load_t0)
                samples.append(point)
                next_sample += args.sample_every
                if len(samples) % max(1, int(60 / args.sample_every)) == 0:
                    log(f"  t={point['t_s']:7.1f}s rss {point['rss_mb']:8.1f} MiB  fds {point['fds']:4d}  "
                        f"tasks {point['tasks']}")
            time.sleep(min(0.25, max(0.01, next_sample - time.monotonic())))
        out, _ = load.communicate()
        result = next((json.loads(line) for line in reversed(out.splitlines()) if line.startswith("{")), None)
        if result is None:
            raise RuntimeError(f"load generator failed: {load_log.read_text()[-2000:]}")
        servers_mod.configure_mock(mock, {"default": {}})
        after = idle_snapshot(gateway, mock, load_t0)
        log(f"after (idle): {after}")
        mock_stats = json.loads(servers_mod.http_get(mock.url + "/_mock/stats", timeout_s=10)[1])
        peak = servers_mod.peak_rss_mb(gateway.pid)

    growth_points = [(s["t_s"], s["rss_mb"]) for s in samples if s["t_s"] >= warmup_s]
    loaded_tasks = [s["tasks"] for s in samples if s["tasks"] is not None]
    cpu = (samples[-1]["cpu_s"] - samples[0]["cpu_s"]) if len(samples) > 1 else None
    summary = {
        "memory_growth_mib_per_min": slope_per_minute(growth_points),
        "rss_mb_after_warmup": growth_points[0][1] if growth_points else None,
        "rss_mb_end": samples[-1]["rss_mb"] if samples else None,
        "rss_mb_max": max((s["rss_mb"] for s in samples), default=None),
        "peak_rss_mb": round(peak, 1),
        "fds_before": before["fds"], "fds_end_loaded": samples[-1]["fds"] if samples else None,
        "fds_max": max((s["fds"] for s in samples), default=None), "fds_after_idle": after["fds"],
        "threads_before": before["threads"], "threads_max": max((s["threads"] for s in samples), default=None),
        "threads_after_idle": after["threads"],
        "tasks_before": before["tasks"], "tasks_end_loaded": loaded_tasks[-1] if loaded_tasks else None,
        "tasks_max": max(loaded_tasks, default=None), "tasks_after_idle": after["tasks"],
        "gateway_cpu_ms_per_request": round(1000 * cpu / max(1, result["ok"] + sum(result["errors"].values())), 3)
        if cpu is not None else None,
        "requests_ok": result["ok"], "client_disconnects": result["disconnected"], "errors": result["errors"],
        "error_rate": result["error_rate"], "latency_ms": result["latency_ms"],
        "upstream_calls": mock_stats.get("total_requests"),
        "upstream_failures": sum(m.get("errors", 0) for m in mock_stats.get("models", {}).values()),
    }
    report = {
        "command": "python benchmarks/soak.py" + (" " + " ".join(argv or sys.argv[1:])).rstrip(),
        "minutes": args.minutes, "rate": args.rate, "warmup_s": warmup_s, "sample_every_s": args.sample_every,
        "disconnect_rate": args.disconnect_rate, "summary": summary,
        "fault_plan": {"error_rate": BASE_BEHAVIOUR["error_rate"], "statuses_rotating_every_10s": FAULT_STATUSES,
                       "stream_cut_1s_every_30s": True, "hang_1s_every_60s": True, "changes_applied": fault_changes,
                       "mock_behaviour": BASE_BEHAVIOUR},
        "gateway_flags": ["--cooldown", "1", "--upstream-timeout", "3", "--anonymous-per-hour", "100000000"],
        "traffic": [{"path": t["path"], "model": t["bodies"][0]["model"], "stream": t["stream"], "weight": t["weight"]}
                    for t in spec["templates"]],
        "machine": {**facts, "load_average_end": [round(x, 2) for x in os.getloadavg()]},
        "before": before, "after_idle": after, "samples": samples, "load_result": result,
        "wall_s": round(time.monotonic() - started, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    log(f"wrote {args.out}: growth {summary['memory_growth_mib_per_min']} MiB/min, "
        f"fds {before['fds']} -> {after['fds']} (max {summary['fds_max']}), "
        f"tasks {before['tasks']} -> {after['tasks']} (max {summary['tasks_max']}), "
        f"ok {result['ok']}, errors {result['errors']}, disconnects {result['disconnected']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
