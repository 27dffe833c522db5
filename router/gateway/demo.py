"""`autotier serve --demo`: run the mock upstream as a child process and return its URL;
create or reuse the demo's funded API key and say how to point clients at the gateway."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from pathlib import Path

LISTENING = re.compile(r"listening on (http://\S+)")
DEMO_BALANCE_USD = 100.0
MIN_REUSED_BALANCE_USD = 1.0  # below this a new funded key replaces the stored one


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


def key_file(db_path: Path) -> Path:
    """Where the demo key is kept: next to the SQLite file (`autotier.db.demo-key`)."""
    return db_path.with_name(db_path.name + ".demo-key")


def demo_key(location: Path | str, stored: Path) -> tuple[str, bool]:
    """(key, created): the key in `stored` if it is still an account of the ledger at
    `location` with at least MIN_REUSED_BALANCE_USD, else a new account funded with
    DEMO_BALANCE_USD whose key is written to `stored` (owner-only) for the next start.
    The key is kept in clear on purpose: it is a demo's, on a demo's mock money."""
    from router.gateway.accounts import Ledger

    ledger = Ledger(location)
    try:
        if stored.exists():
            key = stored.read_text().strip()
            row = ledger.lookup(key)
            if row is not None and row.balance >= MIN_REUSED_BALANCE_USD:
                return key, False
        key = ledger.create_account(DEMO_BALANCE_USD)[1]
    finally:
        ledger.close()
    fd = os.open(stored, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(key + "\n")
    return key, True


def client_lines(url: str, key: str, stored: Path, created: bool) -> list[str]:
    """What `serve --demo` prints once listening: the key and ready `export` lines."""
    how = f"new, {DEMO_BALANCE_USD:g} USD of mock credit" if created else "reused"
    return [
        f"demo: API key {key} ({how}; kept in {stored} for the next start)",
        f"export OPENAI_API_KEY={key} OPENAI_BASE_URL={url}/v1",
        f"export ANTHROPIC_API_KEY={key} ANTHROPIC_BASE_URL={url}",
        f"export KILO_API_KEY={key} KILO_API_URL={url}",
    ]
