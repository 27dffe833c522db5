"""Capture what the real Kilo CLI sends, per mode and API, into data/shapes/ fixtures.

    python -m training.capture_shapes [--out data/shapes] [--raw .cache/shapes/raw.json]

Needs npm (the CLI is installed under .cache/kilo, as tests/gateway do) and loopback only.
It starts the mock upstream with a `tool_script` (so the CLI runs several tool turns), a
gateway in front of it, and a recording proxy in front of the gateway; then runs
`kilo run` once per session (and `kilo run --continue` for follow-up turns) in a scratch
workspace with its own HOME. Every request body the CLI posts is recorded, made
machine-independent (training/shape_fixtures.py) and written as fixtures. The refresh
procedure when the CLI changes is in docs/classifier.md ("Request shapes").
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from training.shape_fixtures import KILO_VERSION, write_fixtures
from training.sources import REPO_ROOT

KILO_DIR = REPO_ROOT / ".cache" / "kilo"
KILO_BIN = KILO_DIR / "node_modules" / ".bin" / "kilo"
PACKAGES = ["@kilocode/cli@7.8.1", f"@kilocode/cli-linux-x64@{KILO_VERSION}"]
LISTENING = re.compile(r"listening on (https?://\S+)")

# What the mock answers after each user turn: a few read-only tool calls, then text.
# (glob and grep need ripgrep, which the CLI downloads on first use: not offline.)
TOOL_SCRIPT = [
    {"name": "bash", "arguments": {"command": "ls -R app tests", "description": "List the project files"}},
    {"name": "read", "arguments": {"filePath": "{workspace}/app/client.py"}},
    {"name": "bash", "arguments": {"command": "grep -n 'def ' app/*.py", "description": "Find the functions"}},
    {"name": "read", "arguments": {"filePath": "{workspace}/tests/test_client.py"}},
]
WORKSPACE_FILES = {
    "app/__init__.py": "",
    "app/client.py": (
        "import time\n\nimport httpx\n\n\nclass UpstreamClient:\n"
        "    def __init__(self, base_url: str) -> None:\n        self.http = httpx.Client(base_url=base_url)\n\n"
        "    def fetch(self, path: str) -> dict:\n        response = self.http.get(path)\n"
        "        response.raise_for_status()\n        return response.json()\n"
    ),
    "app/cache.py": "CACHE: dict[str, object] = {}\n\n\n"
    "def get(key: str) -> object | None:\n    return CACHE.get(key)\n",
    "tests/test_client.py": "from app.client import UpstreamClient\n\n\ndef test_init():\n"
    "    assert UpstreamClient('http://x').http\n",
    "README.md": "# app\n\nA small HTTP client with a cache.\n",
}


@dataclass(frozen=True)
class Session:
    """One captured session: a model (which picks the API), an agent, the user turns."""

    name: str
    model: str
    agent: str
    turns: tuple[str, ...]


SESSIONS = [
    Session("chat-code", "kilo/kilo-auto/frontier", "code",
            ("Add retry with exponential backoff to UpstreamClient.fetch",
             "Now add tests for the retry behaviour too")),
    Session("chat-debug", "kilo/kilo-auto/frontier", "debug",
            ("The cache returns stale entries after an update; find out why",
             "ok, fix it")),
    Session("chat-plan", "kilo/kilo-auto/frontier", "plan",
            ("Plan how to split the client into sync and async variants",
             "What are the risks of that plan for existing callers?")),
    Session("chat-ask", "kilo/kilo-auto/frontier", "ask",
            ("What does UpstreamClient.fetch do when the server answers 500?",
             "And where is the base URL configured?")),
    Session("chat-orchestrator", "kilo/kilo-auto/frontier", "orchestrator",
            ("Migrate the project from httpx to aiohttp and update the tests",
             "Run the test suite and report what fails")),
    Session("messages-code", "kilo/anthropic/claude-sonnet-4.6", "code",
            ("Rename UpstreamClient to ApiClient everywhere",
             "Also update the README")),
    Session("responses-code", "kilo/openai/gpt-5.5", "code",
            ("Write a docstring for every function in app/cache.py",
             "yes, do it for the tests as well")),
]


def ensure_kilo() -> Path:
    """The Kilo CLI binary, installed with npm under .cache/kilo on first use."""
    if KILO_BIN.exists():
        return KILO_BIN
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("capture_shapes: npm is not installed; cannot install the Kilo CLI")
    KILO_DIR.mkdir(parents=True, exist_ok=True)
    subprocess.run([npm, "install", "--ignore-scripts", "--no-audit", "--no-fund", *PACKAGES],
                   cwd=KILO_DIR, check=True, timeout=600)
    return KILO_BIN


class RecordingProxy:
    """Loopback HTTP proxy: records every POST body and its headers, forwards to `target`."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.records: list[dict[str, Any]] = []
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        from aiohttp import ClientSession, web

        async def handle(request: web.Request) -> web.StreamResponse:
            body = await request.read()
            if request.method == "POST":
                try:
                    parsed = json.loads(body)
                except ValueError:
                    parsed = None
                self.records.append({"path": request.path, "headers": dict(request.headers), "body": parsed})
            headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
            async with ClientSession() as client, client.request(
                    request.method, self.target + request.path_qs, data=body, headers=headers) as upstream:
                out = web.StreamResponse(status=upstream.status, headers={
                    k: v for k, v in upstream.headers.items()
                    if k.lower() not in ("content-length", "transfer-encoding", "content-encoding")})
                await out.prepare(request)
                async for chunk in upstream.content.iter_any():
                    await out.write(chunk)
                await out.write_eof()
                return out

        async def start() -> None:
            app = web.Application(client_max_size=64 * 1024 * 1024)
            app.router.add_route("*", "/{tail:.*}", handle)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = site._server.sockets[0].getsockname()[1]  # noqa: SLF001 - aiohttp exposes no port
            self.url = f"http://127.0.0.1:{port}"
            self._ready.set()

        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(start())
        self._loop.run_forever()

    def __enter__(self) -> RecordingProxy:
        self._thread.start()
        if not self._ready.wait(15):
            raise RuntimeError("capture proxy did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


@contextmanager
def gateway(mock_url: str, folder: Path) -> Iterator[tuple[str, str]]:
    """A gateway process on the mock; yields (url, API key of a funded account)."""
    db = folder / "gateway.db"
    made = subprocess.run([sys.executable, "-m", "router.cli", "accounts", "--db", str(db), "create",
                           "--balance", "100", "--json"], capture_output=True, text=True, check=True, cwd=REPO_ROOT)
    key = json.loads(made.stdout)["key"]
    proc = subprocess.Popen([sys.executable, "-m", "router.cli", "serve", "--host", "127.0.0.1", "--port", "0",
                             "--mock-upstream", mock_url, "--db", str(db), "--log-level", "warning"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO_ROOT)
    try:
        url = None
        assert proc.stdout is not None
        for line in proc.stdout:
            found = LISTENING.search(line)
            if found:
                url = found.group(1)
                break
        if url is None:
            raise RuntimeError("the gateway did not start")
        log = folder / "gateway.log"

        def drain() -> None:  # keep reading its log so it never blocks on a full pipe
            with log.open("a") as fh:
                for text in proc.stdout:  # type: ignore[union-attr]
                    fh.write(text)
                    fh.flush()

        threading.Thread(target=drain, daemon=True).start()
        yield url, key
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def run_session(kilo: Path, session: Session, proxy_url: str, key: str, scratch: Path) -> None:
    """Run one session's turns with a fresh HOME and workspace; raises on a CLI failure."""
    home, work = scratch / "home", scratch / "workspace"
    for rel, text in WORKSPACE_FILES.items():
        path = work / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
           "XDG_DATA_HOME": str(home / ".local/share"), "XDG_CACHE_HOME": str(home / ".cache"),
           "XDG_STATE_HOME": str(home / ".local/state"), "KILO_API_URL": proxy_url, "KILO_API_KEY": key,
           "KILO_TELEMETRY_LEVEL": "off", "KILO_DISABLE_AUTOUPDATE": "1", "PWD": str(work)}
    for i, text in enumerate(session.turns):
        cmd = [str(kilo), "run", "-m", session.model, "--agent", session.agent, "--auto", "--dir", str(work)]
        if i:
            cmd.append("--continue")
        done = subprocess.run([*cmd, text], env=env, cwd=work, capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            log = scratch / "gateway.log"
            tail = log.read_text()[-3000:] if log.exists() else ""
            raise RuntimeError(f"{session.name} turn {i}: kilo exited {done.returncode}: {done.stderr[-1500:]}\n"
                               f"gateway log:\n{tail}")


def mock_config(workspace: str) -> dict[str, Any]:
    script = json.loads(json.dumps(TOOL_SCRIPT).replace("{workspace}", workspace))
    return {"default": {"tool_script": script}}


def capture(sessions: list[Session]) -> list[dict[str, Any]]:
    """Run every session; returns one record per session with its requests, in order."""
    from router.mock_upstream.config import MockConfig
    from router.mock_upstream.server import MockServer

    kilo = ensure_kilo()
    out = []
    with tempfile.TemporaryDirectory(prefix="autotier-shapes-") as tmp:
        root = Path(tmp)
        for session in sessions:
            scratch = root / session.name
            scratch.mkdir()
            config = MockConfig.from_dict(mock_config(str(scratch / "workspace")))
            with MockServer(config) as mock, gateway(mock.url, scratch) as (url, key), RecordingProxy(url) as proxy:
                run_session(kilo, session, proxy.url, key, scratch)
                posts = [r for r in proxy.records if r["path"].startswith("/api/") and r["body"]]
            out.append({"session": session.name, "model": session.model, "agent": session.agent,
                        "turns": list(session.turns), "scratch": str(scratch), "requests": posts})
            print(f"{session.name}: {len(posts)} requests", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=REPO_ROOT / "data" / "shapes")
    ap.add_argument("--raw", type=Path, default=REPO_ROOT / ".cache" / "shapes" / "raw.json",
                    help="also keep the unredacted capture here (not committed)")
    ap.add_argument("--only", action="append", default=[], help="session name(s) to capture (default all)")
    ap.add_argument("--from-raw", action="store_true", help="rewrite fixtures from --raw without running the CLI")
    args = ap.parse_args(argv)
    if args.from_raw:
        records = json.loads(args.raw.read_text())
    else:
        chosen = [s for s in SESSIONS if not args.only or s.name in args.only]
        records = capture(chosen)
        args.raw.parent.mkdir(parents=True, exist_ok=True)
        kept = json.loads(args.raw.read_text()) if args.only and args.raw.exists() else []
        fresh = {r["session"] for r in records}
        args.raw.write_text(json.dumps([r for r in kept if r["session"] not in fresh] + records))
    for path in write_fixtures(records, args.out):
        print(f"wrote {path} ({path.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
