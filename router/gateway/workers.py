"""Serving the gateway app: one process (`run_single`) or N worker processes on one
listening socket (`run_workers`, `autotier serve --workers N`).

With N workers the parent binds the socket (router/listen.py: TCP, so Nagle is off on every
accepted connection), prepares what must exist once (the ledger's tables, the live-state
file, LiteLLM imported so the children share it), then forks N children that accept on the
same socket. It prints one "listening on" line when every child serves, forwards SIGTERM /
SIGINT (stop gracefully) and SIGHUP (reload the config) to them, and restarts none: a child
that dies stops the others and the parent exits 1 (2 if it died starting), naming it, so a
service manager sees it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import signal
import socket
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

from router.gateway.settings import GatewaySettings

HANDLED = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}
STOP_GRACE_S = 30.0  # after SIGTERM, a worker still serving (e.g. a long stream) is killed after this


def default_workers() -> int:
    """The cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop when installed (uvicorn[standard] brings it), else asyncio's."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover
        return None
    return uvloop.new_event_loop


def serve_on(settings: GatewaySettings, sock: socket.socket, log_level: str, on_started: Callable[[], None]) -> None:
    """Serve the gateway app on a bound socket until a signal stops it; `on_started` is
    called once it accepts. Raises RuntimeError if the app does not start."""
    import uvicorn

    from router.gateway.app import create_app
    from router.gateway.http_limits import limited_protocol

    app = create_app(settings)
    limits = app.state.gateway.settings
    # proxy_headers=False: X-Forwarded-For is trusted only per --trusted-proxy (intake.client_ip).
    config = uvicorn.Config(app, log_level=log_level.lower(), access_log=False, lifespan="on",
                            proxy_headers=False,
                            http=limited_protocol(limits.max_header_bytes, limits.max_headers, limits.header_timeout_s))
    server = uvicorn.Server(config)

    async def main() -> None:
        # Connect the live state before serving, to fail with one clear line (e.g. Redis
        # unreachable); the app's lifespan finds it started.
        await app.state.gateway.live.start()
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started and not task.done():
            await asyncio.sleep(0.05)
        if server.started:
            on_started()
        await task

    try:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            runner.run(main())
    except SystemExit:  # uvicorn exits this way when the lifespan start-up fails
        if server.started:
            raise
    if not server.started:
        # e.g. Redis unreachable: the lifespan refused to start (uvicorn logged it too).
        raise RuntimeError(app.state.startup_error or "the gateway did not start (see the log above)")


def url_of(host: str, sock: socket.socket) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{sock.getsockname()[1]}"


def run_single(settings: GatewaySettings, host: str, port: int, log_level: str,
               announce: Callable[[str], None]) -> int:
    """One process: bind, serve, call `announce(url)` once serving."""
    from router.listen import bind_socket

    sock = bind_socket(host, port)
    serve_on(settings, sock, log_level, lambda: announce(url_of(host, sock)))
    return 0


def prepare_shared(settings: GatewaySettings) -> None:
    """What N workers need to exist once, before they fork: the ledger's tables, the
    live-state file, a reachable Redis, LiteLLM imported (shared copy-on-write). Raises
    LedgerUnavailable / LiveStateUnavailable with one line to print."""
    from router.gateway.accounts import Ledger
    from router.gateway.live_state import RedisState
    from router.gateway.shared_state import open_live_db
    from router.gateway.upstream import load_litellm

    Ledger(settings.database_url or settings.db_path).close()
    if settings.redis_url:
        async def ping() -> None:
            state = RedisState(settings.redis_url)  # type: ignore[arg-type]
            await state.start()
            await state.close()

        asyncio.run(ping())
    elif settings.live_db_path is not None:
        open_live_db(settings.live_db_path).close()
    load_litellm()


def _child(index: int, settings: GatewaySettings, sock: socket.socket, log_level: str, ready: int) -> None:
    """A worker's whole life after fork; never returns."""
    code = 1
    try:
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
        signal.signal(signal.SIGHUP, signal.SIG_IGN)  # until the app's lifespan handles it (reload)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, HANDLED)
        serve_on(settings, sock, log_level, lambda: os.write(ready, b"."))
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 0
    except (RuntimeError, OSError) as exc:
        print(f"autotier serve: worker {index}: {exc}", file=sys.stderr, flush=True)
        code = 2
    except BaseException:  # noqa: BLE001 - a worker must end here, never return into the parent's code
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


class _Workers:
    """The parent's view of its children: pid -> index."""

    def __init__(self) -> None:
        self.alive: dict[int, int] = {}
        self.stopping = False
        self.stop_deadline = 0.0

    def signal_all(self, sig: int) -> None:
        for pid in list(self.alive):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    def stop(self, *_: Any) -> None:
        if not self.stopping:
            self.stopping = True
            self.stop_deadline = time.monotonic() + STOP_GRACE_S
        self.signal_all(signal.SIGTERM)

    def reap(self) -> list[tuple[int, int]]:
        """(index, exit status) of the children that ended since the last call."""
        ended = []
        for pid in list(self.alive):
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done, status = pid, 0
            if done:
                ended.append((self.alive.pop(pid), os.waitstatus_to_exitcode(status)))
        return ended


def run_workers(settings: GatewaySettings, host: str, port: int, log_level: str, workers: int,
                announce: Callable[[str], None]) -> int:
    """N worker processes on one socket (see the module); returns the exit status."""
    from router.listen import bind_socket

    prepare_shared(settings)
    sock = bind_socket(host, port)
    ready_read, ready_write = os.pipe()
    pool = _Workers()
    previous = {sig: signal.signal(sig, pool.stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, lambda *_: pool.signal_all(signal.SIGHUP))
    failed = 0
    try:
        for index in range(workers):
            # Signals wait until each side has its own handlers (the parent's would act on
            # the child's copy of `pool`).
            signal.pthread_sigmask(signal.SIG_BLOCK, HANDLED)
            pid = os.fork()
            if pid == 0:
                os.close(ready_read)
                _child(index, settings, sock, log_level, ready_write)
            pool.alive[pid] = index
            signal.pthread_sigmask(signal.SIG_UNBLOCK, HANDLED)
        os.close(ready_write)
        url = url_of(host, sock)
        sock.close()  # the children hold it
        started = 0
        while pool.alive:
            if started < workers and not pool.stopping:
                readable, _, _ = select.select([ready_read], [], [], 0.1)
                if readable:  # a byte per worker that serves (b"" once every worker is gone)
                    started += len(os.read(ready_read, workers))
                    if started >= workers:
                        announce(url)
            else:
                time.sleep(0.1)
            for index, status in pool.reap():
                if not pool.stopping:
                    state = "before it was ready" if started < workers else "while serving"
                    print(f"autotier serve: worker {index} exited with status {status} {state}; "
                          "stopping the others (workers are not restarted)", file=sys.stderr, flush=True)
                    failed = 2 if started < workers else 1
                    pool.stop()
            if pool.stopping and time.monotonic() > pool.stop_deadline:
                pool.signal_all(signal.SIGKILL)
    finally:
        if pool.alive:  # an exception in the parent itself: take the children with it
            pool.signal_all(signal.SIGKILL)
            for pid in list(pool.alive):
                os.waitpid(pid, 0)
        os.close(ready_read)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return failed
