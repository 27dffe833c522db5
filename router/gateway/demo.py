"""`autotier serve --demo`: run the mock upstream as a child process and return its URL."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading

LISTENING = re.compile(r"listening on (http://\S+)")


def start_mock_upstream(host: str = "127.0.0.1", timeout_s: float = 60.0) -> tuple[subprocess.Popen[str], str]:
    """Start `autotier mock-upstream --port 0` and wait for its "listening on URL" line.
    Raises RuntimeError (and stops the child) if it does not come up."""
    command = [sys.executable, "-m", "router.cli", "mock-upstream", "--host", host, "--port", "0"]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=None, text=True,
                             env={**os.environ, "PYTHONUNBUFFERED": "1"})
    found: list[str] = []

    def read() -> None:
        assert child.stdout is not None
        for line in child.stdout:
            if not found:
                match = LISTENING.search(line)
                if match:
                    found.append(match.group(1))
            else:
                sys.stderr.write(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(0)
    waited = 0.0
    while not found and child.poll() is None and waited < timeout_s:
        threading.Event().wait(0.05)
        waited += 0.05
    if not found:
        stop(child)
        raise RuntimeError("the mock upstream did not start (see its output above)")
    return child, found[0]


def stop(child: subprocess.Popen[str]) -> None:
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
