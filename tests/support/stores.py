"""Real Redis and PostgreSQL servers on loopback for scale-out tests, always stopped.

    with redis_server() as url:            # "redis://127.0.0.1:PORT/0"
        ...
    with postgres_server() as pg:          # pg.url("somedb"), pg.create_database("somedb")
        ...

Both raise StoreUnavailable when their binaries are missing (callers skip). PostgreSQL's
`initdb` refuses to run as root: as root, the server runs as the `postgres` system user
(else `nobody`) through `runuser`, with a temporary data folder that user owns.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from tests.support.processes import ProcessStartError, free_port, running_process

PG_USER = "autotier"


class StoreUnavailable(RuntimeError):
    """The server's binaries are not installed; the message says which and how to get them."""


def redis_binary() -> str | None:
    return shutil.which("redis-server") or ("/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server")
                                            else None)


def postgres_bin_dir() -> Path | None:
    """The newest /usr/lib/postgresql/*/bin holding initdb, else the folder of an initdb on PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


def _wait_redis(url: str, proc: subprocess.Popen[str], timeout_s: float) -> None:
    import redis

    deadline = time.monotonic() + timeout_s
    client = redis.Redis.from_url(url, socket_connect_timeout=0.5)
    try:
        while True:
            try:
                if client.ping():
                    return
            except redis.exceptions.RedisError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise ProcessStartError(f"redis-server at {url} did not answer in {timeout_s:g} s")
            time.sleep(0.05)
    finally:
        client.close()


@contextmanager
def redis_server(timeout_s: float = 20.0) -> Iterator[str]:
    """A fresh redis-server (no persistence) on a free loopback port; yields its URL."""
    binary = redis_binary()
    if binary is None:
        raise StoreUnavailable("redis-server is not installed (apt-get install redis-server)")
    folder = tempfile.mkdtemp(prefix="autotier-redis-")
    command = [binary, "--port", "{port}", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
               "--dir", folder, "--daemonize", "no", "--protected-mode", "yes"]
    try:
        with running_process(command) as proc:
            url = proc.url.replace("http://", "redis://") + "/0"
            try:
                _wait_redis(url, proc.process, timeout_s)
            except ProcessStartError as exc:
                raise ProcessStartError(f"{exc}; output:\n{proc.output()}") from None
            yield url
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class PostgresHandle:
    port: int
    bin_dir: Path
    folder: Path

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{PG_USER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """CREATE DATABASE `name` (dropped first if it exists); returns its URL."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def _server_user() -> tuple[list[str], str | None]:
    """(command prefix, user) to run PostgreSQL as: unprivileged when we are root."""
    if os.geteuid() != 0:
        return [], None
    for user in ("postgres", "nobody"):
        with suppress(KeyError):
            pwd.getpwnam(user)
            return ["runuser", "-u", user, "--"], user
    raise StoreUnavailable("running as root and neither a 'postgres' nor a 'nobody' user exists for initdb")


@contextmanager
def postgres_server(timeout_s: float = 60.0) -> Iterator[PostgresHandle]:
    """A fresh PostgreSQL cluster (trust auth, superuser `autotier`) on 127.0.0.1 and a
    free port, its unix socket in its own temporary folder; stopped and removed on exit."""
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        raise StoreUnavailable("PostgreSQL is not installed (apt-get install postgresql)")
    prefix, user = _server_user()
    folder = Path(tempfile.mkdtemp(prefix="autotier-pg-"))
    data, log = folder / "data", folder / "server.log"
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    pg_ctl = [*prefix, str(bin_dir / "pg_ctl"), "-D", str(data)]
    started = False
    try:
        init = subprocess.run([*prefix, str(bin_dir / "initdb"), "-D", str(data), "-U", PG_USER, "--auth=trust",
                               "-E", "UTF8", "--no-sync", "--no-instructions"],
                              capture_output=True, text=True, timeout=timeout_s)
        if init.returncode != 0:
            raise ProcessStartError(f"initdb failed: {init.stdout}{init.stderr}")
        port = free_port()
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} -c fsync=off -c max_connections=50"
        started = True
        result = subprocess.run([*pg_ctl, "-o", options, "-l", str(log), "-w", "-t", str(int(timeout_s)), "start"],
                                capture_output=True, text=True, timeout=timeout_s + 10)
        if result.returncode != 0:
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise ProcessStartError(f"pg_ctl start failed: {result.stdout}{result.stderr}\n{tail}")
        yield PostgresHandle(port, bin_dir, folder)
    finally:
        if started:
            subprocess.run([*pg_ctl, "-m", "immediate", "-w", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(folder, ignore_errors=True)
