"""Servers and measurements shared by the load benchmarks (`gateway_overhead.py`, `soak.py`).

Starts the project's real commands (`autotier mock-upstream`, `autotier accounts create`,
`autotier serve --mock-upstream URL`) and LiteLLM's proxy (`litellm --config`) as process
groups on loopback, each logging to a file; reads CPU time, RSS and open descriptors of a
server and its children from /proc; runs one load step (`_load.py`) in its own process and
samples the servers at the start and end of the step's measured window.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
LOAD_SCRIPT = Path(__file__).resolve().parent / "_load.py"
LISTENING = re.compile(r"listening on (http://\S+)")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
PROXY_CACHE_VENV = REPO / ".cache" / "litellm-proxy-venv"
# Modules only `litellm[proxy]` installs; the proxy refuses to start without them.
PROXY_ONLY_MODULES = ("backoff", "apscheduler", "fastapi_sso", "litellm_proxy_extras", "litellm_enterprise")


# ---- /proc ---------------------------------------------------------------------------------
def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2:].split()  # fields from "state" on; comm may hold spaces


def process_tree(pid: int) -> list[int]:
    """`pid` and every live descendant."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields:
                children.setdefault(int(fields[1]), []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, ()))
    return tree


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of `pid` and its live descendants."""
    total = 0
    for p in process_tree(pid):
        fields = _stat_fields(p)
        if fields:
            total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


def _status_field(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_mb(pid: int) -> float:
    """Resident memory (MiB) of `pid` and its live descendants."""
    return sum(_status_field(p, "VmRSS") for p in process_tree(pid)) / 1024


def peak_rss_mb(pid: int) -> float:
    """Peak resident memory (VmHWM, MiB) summed over `pid` and its live descendants."""
    return sum(_status_field(p, "VmHWM") for p in process_tree(pid)) / 1024


def threads(pid: int) -> int:
    """OS threads of `pid` and its live descendants."""
    return sum(_status_field(p, "Threads") for p in process_tree(pid))


def open_fds(pid: int) -> int:
    """Open file descriptors of `pid` and its live descendants."""
    total = 0
    for p in process_tree(pid):
        with contextlib.suppress(OSError):
            total += len(os.listdir(f"/proc/{p}/fd"))
    return total


def machine_facts() -> dict[str, Any]:
    """CPU model and count, memory, load, versions: what a reader needs to compare runs."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import uvloop  # noqa: F401
        have_uvloop = True
    except ImportError:
        have_uvloop = False
    return {
        "cpus": os.cpu_count(), "cpu_model": model, "python": platform.python_version(),
        "platform": platform.platform(), "memory_mb": round(os.sysconf("SC_PHYS_PAGES") * PAGE_KB / 1024),
        "load_average": [round(x, 2) for x in os.getloadavg()], "uvloop_in_generator": have_uvloop,
    }


# ---- processes -------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """One started server: its process group, base URL and log file."""

    name: str
    process: subprocess.Popen[bytes]
    url: str
    log: Path
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def cpu_s(self) -> float:
        return cpu_seconds(self.pid)

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM the process group, SIGKILL after `timeout_s`; safe to call twice."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                continue
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)  # children the leader left behind
            return


def _spawn(name: str, command: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                cwd=REPO, start_new_session=True,
                                env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})})


def _wait_url(proc: subprocess.Popen[bytes], log: Path, timeout_s: float, name: str) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        match = LISTENING.search(log.read_text(errors="replace"))
        if match:
            return match.group(1).rstrip("/")
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    raise RuntimeError(f"{name} did not start; last output:\n{log.read_text(errors='replace')[-3000:]}")


def http_get(url: str, timeout_s: float = 2.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:  # noqa: S310 - loopback only
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def http_send(method: str, url: str, body: Any, headers: dict[str, str] | None = None) -> Any:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method=method,
                                     headers={"content-type": "application/json", **(headers or {})})
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback only
        return json.loads(response.read() or b"null")


def _wait_healthy(server: Server, path: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if http_get(server.url + path)[0] == 200:
                return
        except OSError:
            pass
        if server.process.poll() is not None:
            break
        time.sleep(0.1)
    raise RuntimeError(f"{server.name}: {server.url}{path} not ready; output:\n"
                       f"{server.log.read_text(errors='replace')[-3000:]}")


def autotier_command(*args: str) -> list[str]:
    """`autotier ARGS` run by this interpreter (the same as the console script)."""
    return [sys.executable, "-m", "router.cli", *args]


def start_mock(workdir: Path) -> Server:
    """`autotier mock-upstream --port 0` (access log off)."""
    log = workdir / "mock.log"
    proc = _spawn("mock", autotier_command("mock-upstream", "--host", "127.0.0.1", "--port", "0"), log)
    server = Server("mock", proc, "", log)
    try:
        server.url = _wait_url(proc, log, 60, "mock upstream")
        _wait_healthy(server, "/healthz", 30)
    except BaseException:
        server.stop()
        raise
    return server


def configure_mock(mock: Server, config: dict[str, Any]) -> None:
    """Replace the mock's live config (POST /_mock/config)."""
    http_send("POST", mock.url + "/_mock/config", config)


def create_account(db: Path, balance: float = 1e9) -> str:
    """`autotier accounts --db DB create --balance N --json`; returns the API key."""
    out = subprocess.run(autotier_command("accounts", "--db", str(db), "create", "--balance", str(balance), "--json"),
                         cwd=REPO, capture_output=True, text=True, check=True)
    return str(json.loads(out.stdout)["key"])


def start_gateway(name: str, mock: Server, workdir: Path, *flags: str) -> Server:
    """`autotier serve --mock-upstream MOCK --port 0` with its own SQLite file and one paid account
    (key in `server.extra["key"]`); ready once /readyz answers 200. One worker process unless
    `flags` say `--workers N`."""
    folder = workdir / name
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "gateway.db"
    key = create_account(db)
    log = folder / "gateway.log"
    command = autotier_command("serve", "--host", "127.0.0.1", "--port", "0", "--mock-upstream", mock.url,
                               "--db", str(db), "--log-level", "warning", "--workers", "1", *flags)
    proc = _spawn(name, command, log)
    server = Server(name, proc, "", log, {"key": key, "db": str(db)})
    try:
        server.url = _wait_url(proc, log, 90, name)
        _wait_healthy(server, "/readyz", 90)
    except BaseException:
        server.stop()
        raise
    return server


def proxy_usable(litellm_bin: Path) -> bool:
    """Whether `litellm_bin`'s environment has the proxy's extra packages."""
    python = litellm_bin.parent / "python"
    if not litellm_bin.exists() or not python.exists():
        return False
    modules = ",".join(repr(m) for m in PROXY_ONLY_MODULES)
    check = f"import importlib.util as u, sys; sys.exit(0 if all(u.find_spec(m) for m in ({modules},)) else 1)"
    return subprocess.run([str(python), "-c", check], capture_output=True).returncode == 0


def default_litellm_bin() -> Path | None:
    """The project venv's `litellm` if `litellm[proxy]` is installed there, else the one in
    .cache/litellm-proxy-venv (see benchmarks/gateway_overhead.py for how to create it)."""
    for candidate in (Path(sys.executable).parent / "litellm", PROXY_CACHE_VENV / "bin" / "litellm"):
        if proxy_usable(candidate):
            return candidate
    return None


def start_litellm_proxy(litellm_bin: Path, mock: Server, workdir: Path, upstream_model: str,
                        group: str = "bench", master_key: str = "sk-bench") -> Server:
    """`litellm --config cfg.yaml`: one model group `group` -> `openai/<upstream_model>` at the
    mock. LITELLM_LOG=ERROR keeps uvicorn's access log off, as autotier's is."""
    folder = workdir / "litellm"
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "cfg.yaml"
    config.write_text(
        "model_list:\n"
        f"  - model_name: {group}\n"
        "    litellm_params:\n"
        f"      model: openai/{upstream_model}\n"
        f"      api_base: {mock.url}/v1\n"
        "      api_key: mock\n"
        "litellm_settings:\n"
        "  drop_params: true\n"
    )
    port = free_port()
    log = folder / "litellm.log"
    env = {"LITELLM_MASTER_KEY": master_key, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR"}
    proc = _spawn("litellm", [str(litellm_bin), "--config", str(config), "--host", "127.0.0.1",
                              "--port", str(port), "--num_workers", "1"], log, env)
    server = Server("litellm_proxy", proc, f"http://127.0.0.1:{port}", log,
                    {"key": master_key, "group": group, "bin": str(litellm_bin)})
    try:
        _wait_healthy(server, "/health/liveliness", 180)
    except BaseException:
        server.stop()
        raise
    return server


def settle(servers: list[Server], max_s: float = 5.0, idle_util: float = 0.05) -> float:
    """Wait until every server uses under `idle_util` of a core over 0.2 s (a backlog left by
    an overloaded step would otherwise run into the next one); returns the seconds waited."""
    start = time.monotonic()
    while time.monotonic() - start < max_s:
        before = [s.cpu_s() for s in servers]
        time.sleep(0.2)
        after = [s.cpu_s() for s in servers]
        if all((b - a) / 0.2 < idle_util for a, b in zip(before, after, strict=True)):
            break
    return round(time.monotonic() - start, 2)


# ---- one load step ---------------------------------------------------------------------------
@dataclass
class Sample:
    wall: float
    cpu: dict[str, float]
    rss: dict[str, float]


def sample(servers: list[Server]) -> Sample:
    return Sample(time.monotonic(), {s.name: s.cpu_s() for s in servers}, {s.name: rss_mb(s.pid) for s in servers})


def run_step(spec: dict[str, Any], servers: list[Server], workdir: Path, timeout_s: float = 300) -> dict[str, Any]:
    """Run `_load.py` with `spec` in its own process; returns its result plus, per server in
    `servers`, CPU seconds and utilisation over the measured window and RSS at its end."""
    spec_path = workdir / "step.json"
    spec_path.write_text(json.dumps(spec))
    proc = subprocess.Popen([sys.executable, str(LOAD_SCRIPT), str(spec_path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=REPO, start_new_session=True)
    marks: dict[str, Sample] = {}
    result: dict[str, Any] | None = None
    deadline = time.monotonic() + timeout_s
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("MARK "):
                marks[line.split()[1]] = sample(servers)
            elif line.startswith("{"):
                result = json.loads(line)
            if time.monotonic() > deadline:
                break
        proc.wait(max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    if result is None or "start" not in marks or "end" not in marks:
        err = proc.stderr.read() if proc.stderr else ""
        raise RuntimeError(f"load step failed (rc {proc.returncode}): {err[-2000:]}")
    start, end = marks["start"], marks["end"]
    window = max(1e-9, end.wall - start.wall)
    done = result["ok"] + sum(result["errors"].values()) - result["errors"].get("not_completed", 0) \
        + result["disconnected"]
    result["servers"] = {
        s.name: {
            "cpu_s": round(end.cpu[s.name] - start.cpu[s.name], 3),
            "cpu_util": round((end.cpu[s.name] - start.cpu[s.name]) / window, 3),
            "cpu_ms_per_request": round(1000 * (end.cpu[s.name] - start.cpu[s.name]) / done, 3) if done else None,
            "rss_mb": round(end.rss[s.name], 1),
        }
        for s in servers
    }
    return result
