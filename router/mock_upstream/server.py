"""Running the mock: `autotier mock-upstream` and an in-process server on a background thread."""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path
from types import TracebackType

import uvicorn

from router.listen import base_url, bind_socket
from router.mock_upstream.app import create_app
from router.mock_upstream.config import MockConfig, MockConfigError


def _uvicorn_config(config: MockConfig, access_log: bool) -> uvicorn.Config:
    return uvicorn.Config(
        create_app(config), log_level="info" if access_log else "warning", access_log=access_log,
        lifespan="off", timeout_graceful_shutdown=1, timeout_keep_alive=30,
    )


class MockServer:
    """The mock upstream in this process, on a daemon thread; use as a context manager.

    `with MockServer(MockConfig()) as mock: mock.url` -> "http://127.0.0.1:PORT".
    """

    def __init__(self, config: MockConfig | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sock = bind_socket(host, port)
        self.url = base_url(self.sock)
        self.server = uvicorn.Server(_uvicorn_config(config or MockConfig(), access_log=False))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def start(self, timeout_s: float = 10.0) -> MockServer:
        """Start serving; returns once the server accepts requests (or raises after timeout_s)."""
        self.thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"mock upstream did not start on {self.url}")
            time.sleep(0.005)
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop serving and wait up to timeout_s for the thread to end."""
        self.server.should_exit = True
        self.thread.join(timeout_s)
        self.sock.close()

    def __enter__(self) -> MockServer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


def build_parser() -> argparse.ArgumentParser:
    """Arguments of `autotier mock-upstream`."""
    parser = argparse.ArgumentParser(
        prog="autotier mock-upstream",
        description="A local OpenAI / Responses / Anthropic compatible upstream with fault injection.")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one (default 0)")
    parser.add_argument("--config", type=Path, help="YAML or JSON file: seed, default, models (see MockConfig)")
    parser.add_argument("--seed", type=int, help="random seed for error_rate and jitter (overrides the file)")
    parser.add_argument("--access-log", action="store_true", help="log every request (off: cheaper)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGINT/SIGTERM; prints `mock-upstream listening on URL` once bound. Returns 0, or 2 on bad input."""
    args = build_parser().parse_args(argv)
    try:
        config = MockConfig.from_file(args.config) if args.config else MockConfig()
        if args.seed is not None:
            config = config.model_copy(update={"seed": args.seed})
        sock = bind_socket(args.host, args.port)
    except (MockConfigError, OSError) as exc:
        print(f"mock-upstream: {exc}", file=sys.stderr)
        return 2
    # The socket already listens, so a parent may connect as soon as it reads this line.
    print(f"mock-upstream listening on {base_url(sock)}", flush=True)
    uvicorn.Server(_uvicorn_config(config, args.access_log)).run(sockets=[sock])
    return 0
