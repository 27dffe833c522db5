"""Start a server command as a real subprocess on loopback, wait until it answers, always stop it.

    with running_process([sys.executable, "-m", "router.cli", "mock-upstream", "--port", "0"],
                         url_pattern=LISTENING_URL) as proc:
        httpx.get(proc.url + "/healthz")

    with running_process(["autotier", "serve", "--port", "{port}"], health_path="/healthz") as proc:
        ...   # "{port}" in the command is replaced by a free loopback port; proc.url is built from it

The process runs in its own session; on exit its whole process group gets SIGTERM, then SIGKILL
after `stop_timeout_s`, so children it started go too.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

import httpx

# Matches the line servers of this project print once bound, e.g. the mock upstream's.
LISTENING_URL = re.compile(r"listening on (https?://\S+)")


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on `host` right now (another process may still take it; prefer --port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningProcess:
    """A started server: its base URL, the Popen handle and the last lines of its output."""

    url: str
    process: subprocess.Popen[str]
    lines: deque[str] = field(default_factory=lambda: deque(maxlen=500))

    def output(self) -> str:
        """The captured stdout+stderr lines so far (the last 500)."""
        return "".join(self.lines)


class ProcessStartError(RuntimeError):
    """The command exited or did not answer in time; the message carries its last output."""


def _drain(proc: subprocess.Popen[str], lines: deque[str], seen: threading.Condition) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        with seen:
            lines.append(line)
            seen.notify_all()
    with seen:
        seen.notify_all()


def _wait_for_url(proc: subprocess.Popen[str], lines: deque[str], seen: threading.Condition,
                  pattern: re.Pattern[str], deadline: float) -> str:
    checked = 0
    with seen:
        while True:
            for line in list(lines)[checked:]:
                match = pattern.search(line)
                if match:
                    return match.group(1)
            checked = len(lines)
            if proc.poll() is not None or time.monotonic() > deadline:
                raise ProcessStartError("no URL line")
            seen.wait(0.05)


def _wait_healthy(proc: subprocess.Popen[str], url: str, deadline: float) -> None:
    while True:
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise ProcessStartError(f"{url} did not answer")
        time.sleep(0.05)


def stop_process(proc: subprocess.Popen[str], timeout_s: float = 5.0) -> None:
    """SIGTERM the process group, SIGKILL it after timeout_s; safe to call twice."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            continue
        # The leader is gone; make sure no child in its group outlives it.
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        return


@contextmanager
def running_process(
    command: Sequence[str], *, url_pattern: re.Pattern[str] | None = None, health_path: str | None = None,
    host: str = "127.0.0.1", env: Mapping[str, str] | None = None, cwd: str | None = None,
    start_timeout_s: float = 30.0, stop_timeout_s: float = 5.0,
) -> Iterator[RunningProcess]:
    """Run `command` until the block ends; yields once it is reachable.

    Readiness: with `url_pattern`, the first output line it matches gives the URL (group 1);
    otherwise the URL is http://host:{port} for the free port substituted for "{port}".
    With `health_path`, GET url+health_path must then answer below 500. Raises
    ProcessStartError (with the process output) if it exits or is not ready in start_timeout_s.
    """
    port = free_port(host)
    argv = [part.replace("{port}", str(port)) for part in command]
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            text=True, env=full_env, cwd=cwd, start_new_session=True)
    running = RunningProcess(url=f"http://{host}:{port}", process=proc)
    seen = threading.Condition()
    threading.Thread(target=_drain, args=(proc, running.lines, seen), daemon=True).start()
    try:
        deadline = time.monotonic() + start_timeout_s
        try:
            if url_pattern is not None:
                running.url = _wait_for_url(proc, running.lines, seen, url_pattern, deadline).rstrip("/")
            if health_path is not None:
                _wait_healthy(proc, running.url + health_path, deadline)
        except ProcessStartError as exc:
            status = "exited with " + str(proc.returncode) if proc.poll() is not None else "still running"
            raise ProcessStartError(
                f"{' '.join(argv)}: {exc} within {start_timeout_s:g} s ({status}); output:\n{running.output()}"
            ) from None
        yield running
    finally:
        stop_process(proc, stop_timeout_s)


def wait_for(predicate: Callable[[], object], timeout_s: float = 15.0, poll_s: float = 0.1) -> None:
    """Poll `predicate` until it is true; AssertionError after `timeout_s` seconds."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(poll_s)
    raise AssertionError("condition not met in time")
