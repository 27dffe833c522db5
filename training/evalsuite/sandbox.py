"""Run an answer's Python code against a case's checks in a separate, limited process.

A fresh temporary folder as cwd, `python -I -S` (no user site, no site-packages, no PYTHON*
variables), an environment of PATH and a locale only, its own session, and rlimits the child
sets on itself before the answer runs (`testkit.py`: CPU, 1 GiB address space per process,
file size, at most EXTRA_TASKS more tasks). The per-run nonce of the result line travels on
the child's stdin, which the harness reads and closes before the answer is imported.

Run as root, the child runs as a throwaway user: a uid/gid picked per run from a high range
with no passwd entry, owning only the run folder. It cannot read the runner's environment
(/proc/<pid>/environ), write the repository or anything else root owns, or signal other
processes; RLIMIT_NPROC applies to it; afterwards every process of that uid is killed (so a
daemon that left the process group dies too), and what it left in the world-writable
folders (/tmp, /var/tmp, /dev/shm, /run/lock) and System V IPC objects are removed.
Not run as root (or when no interpreter is reachable by an unprivileged user), the child
runs as the calling user and a warning is logged once: it can then read what that user
can, write where that user can, and a double-forked daemon outlives the run. Neither mode
isolates the network, and nothing stops in-process tricks (inspecting the harness's frames,
objects whose __eq__ is always true). See data/eval_suite/README.md.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import re
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

KIT = Path(__file__).with_name("testkit.py")
RESERVED = {"solution.py", "tests.py", "evalsuite_kit.py", "stdout.txt", "stderr.txt"}
FILE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\.(py|txt|json|csv|yaml|cfg|ini|md)$")
ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
UID_RANGE = (1_000_000, 1_000_000_000)  # throwaway uids (and gids): no passwd entry, no files
SHARED_DIRS = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")  # where any user can leave files
KILL_PATIENCE_S = 5.0
CLEANUP_PATIENCE_S = 5.0

log = logging.getLogger(__name__)
_lock = threading.Lock()
_probe_lock = threading.Lock()
_uids_in_use: set[int] = set()
_interpreter: list[str | None] = []  # [path] once probed: an interpreter a throwaway uid can run
_warned: list[str] = []


@dataclass(frozen=True)
class RunResult:
    passed: bool
    checks: int  # top-level test statements that hold an assert
    checks_passed: int
    detail: str


def bad_file_name(name: object) -> str | None:
    """Why `name` cannot be an extra file of a unit_tests case (None when it can)."""
    if not isinstance(name, str) or not FILE_NAME.match(name):
        return f"{name!r} must be a plain file name such as helpers.py"
    if name in RESERVED:
        return f"{name!r} is reserved by the sandbox"
    return None


def run_python(solution: str, tests: str, *, files: Mapping[str, str] | None = None,
               timeout_s: float = 10.0) -> RunResult:
    """Write solution.py, tests.py and `files` into a fresh folder and run the tests there."""
    nonce = secrets.token_hex(16)
    exe, uid = _sandbox_user()
    folder = Path(tempfile.mkdtemp(prefix="evalsuite-"))  # mode 0o700
    try:
        (folder / "solution.py").write_text(solution, encoding="utf-8")
        (folder / "tests.py").write_text(tests, encoding="utf-8")
        (folder / "evalsuite_kit.py").write_text(KIT.read_text(encoding="utf-8"), encoding="utf-8")
        for name, text in (files or {}).items():
            (folder / name).write_text(text, encoding="utf-8")
        ids: dict = {}
        if uid is not None:
            os.chown(folder, uid, uid)  # the files in it stay root's, readable (0o644)
            ids = {"user": uid, "group": uid, "extra_groups": []}
        # Output goes to unnamed files, not pipes: RLIMIT_FSIZE then caps a reply that prints
        # forever, and the child cannot swap them for files of its own.
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            timed_out, code = False, 0
            proc = subprocess.Popen(
                [exe, "-I", "-S", "-B", "evalsuite_kit.py", str(timeout_s)],
                cwd=folder, env=dict(ENV, HOME=str(folder), TMPDIR=str(folder)), stdin=subprocess.PIPE,
                stdout=out, stderr=err, start_new_session=True, close_fds=True, **ids)
            try:
                assert proc.stdin is not None
                with contextlib.suppress(OSError):
                    proc.stdin.write(f"{nonce}\n".encode())
                with contextlib.suppress(OSError):
                    proc.stdin.close()
                code = proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                timed_out = True
            finally:
                _kill_group(proc)  # whatever it forked and left behind
                if uid is not None:
                    _kill_user(uid)  # and whatever left the group (setsid, double fork)
            if timed_out:
                return RunResult(False, 0, 0, f"timed out after {timeout_s:g}s")
            stdout, stderr = _tail(out), _tail(err)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        if uid is not None:
            _remove_leftovers(uid)
            with _lock:
                _uids_in_use.discard(uid)
    return _read(stdout, stderr, code, nonce)


# ---- the throwaway user ---------------------------------------------------------------------

def _sandbox_user() -> tuple[str, int | None]:
    """The interpreter to run and the uid to run it as (None: as ourselves, with a warning)."""
    if os.geteuid() != 0:
        _warn_once("not running as root: the unit_tests sandbox runs answers as this user (they can read "
                   "its files, write where it can, and leave processes behind); run untrusted suites or "
                   "models in a container, or as root to run each answer as a throwaway user")
        return sys.executable, None
    exe = _unprivileged_interpreter()
    if exe is None:
        _warn_once("no Python interpreter is reachable by an unprivileged user (is it under /root?): the "
                   "unit_tests sandbox runs answers as root; install Python where any user can run it")
        return sys.executable, None
    return exe, _new_uid()


def drops_privileges() -> bool:
    """Whether answers run as a throwaway user: we are root and found an interpreter for it."""
    return os.geteuid() == 0 and _unprivileged_interpreter() is not None


def _unprivileged_interpreter() -> str | None:
    with _probe_lock:
        if not _interpreter:
            _interpreter.append(_find_interpreter())
    return _interpreter[0]


def _new_uid() -> int:
    with _lock:
        while True:
            uid = UID_RANGE[0] + secrets.randbelow(UID_RANGE[1] - UID_RANGE[0])
            if uid not in _uids_in_use:
                _uids_in_use.add(uid)
                return uid


def _find_interpreter() -> str | None:
    """The first of our own interpreter, its real path, its base, and python3.X on ENV's PATH
    that a throwaway uid can start and that is this Python version (probed once per process)."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [sys.executable, os.path.realpath(sys.executable), getattr(sys, "_base_executable", ""),
                  shutil.which(version, path=ENV["PATH"]) or ""]
    for exe in dict.fromkeys(c for c in candidates if c):
        if _probe(exe):
            return exe
    return None


def _probe(exe: str) -> bool:
    uid = _new_uid()
    folder = tempfile.mkdtemp(prefix="evalsuite-probe-")
    try:
        os.chown(folder, uid, uid)
        done = subprocess.run(
            [exe, "-I", "-S", "-B", "-c", "import sys, ast, json; print(tuple(sys.version_info[:2]))"],
            cwd=folder, env=dict(ENV, HOME=folder, TMPDIR=folder), stdin=subprocess.DEVNULL,
            capture_output=True, text=True, timeout=30, user=uid, group=uid, extra_groups=[])
        return done.returncode == 0 and done.stdout.strip() == str(tuple(sys.version_info[:2]))
    except (OSError, subprocess.SubprocessError):
        return False
    finally:
        _kill_user(uid)
        shutil.rmtree(folder, ignore_errors=True)
        with _lock:
            _uids_in_use.discard(uid)


def _warn_once(message: str) -> None:
    with _lock:
        if message in _warned:
            return
        _warned.append(message)
    log.warning(message)


def _kill_user(uid: int) -> None:
    """SIGKILL every process of `uid` until none is left (a killed process cannot fork)."""
    deadline = time.monotonic() + KILL_PATIENCE_S
    while pids := _processes_of(uid):
        for pid in pids:
            _kill_if_owned(pid, uid)
        if time.monotonic() > deadline:
            log.warning("sandbox uid %d: %d processes survive SIGKILL", uid, len(pids))
            return
        time.sleep(0.005)


def _processes_of(uid: int) -> list[int]:
    """Live processes (not zombies) whose real, effective, saved or fs uid is `uid`."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit() and _owned_by(name, uid):
            found.append(int(name))
    return found


def _owned_by(pid: str | int, uid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
            status = dict(line.partition(":")[::2] for line in f)
    except OSError:
        return False
    if str(uid) not in status.get("Uid", "").split():
        return False
    # A zombie is dead, unless it is a thread-group leader whose other threads still run.
    return not status.get("State", "").strip().startswith("Z") or status.get("Threads", "1").strip() != "1"


def _kill_if_owned(pid: int, uid: int) -> None:
    """Through a pidfd, so a pid reused between the check and the kill is left alone."""
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        return
    try:
        if _owned_by(pid, uid):
            signal.pidfd_send_signal(fd, signal.SIGKILL)
    except OSError:
        pass
    finally:
        os.close(fd)


def _remove_leftovers(uid: int) -> None:
    """Delete what `uid` left where any user can write: entries it owns in SHARED_DIRS and in
    world-writable folders below them (bounded by CLEANUP_PATIENCE_S), and its System V IPC
    objects (shared memory holds RAM after its creator is gone)."""
    deadline = time.monotonic() + CLEANUP_PATIENCE_S
    stack = [(p, 0) for p in dict.fromkeys((tempfile.gettempdir(), *SHARED_DIRS)) if os.path.isdir(p)]
    while stack and time.monotonic() < deadline:
        path, depth = stack.pop()
        try:
            entries = list(os.scandir(path))
        except OSError:
            continue
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
                if st.st_uid == uid:
                    if stat.S_ISDIR(st.st_mode):
                        shutil.rmtree(entry.path, ignore_errors=True)  # never follows symlinks
                    else:
                        os.unlink(entry.path)
                elif stat.S_ISDIR(st.st_mode) and st.st_mode & stat.S_IWOTH and depth < 8:
                    stack.append((entry.path, depth + 1))
            except OSError:
                continue
    _remove_ipc(uid)


def _remove_ipc(uid: int) -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return
    remove = {"shm": lambda i: libc.shmctl(i, 0, None), "msg": lambda i: libc.msgctl(i, 0, None),
              "sem": lambda i: libc.semctl(i, 0, 0)}  # 0 = IPC_RMID
    for kind, rm in remove.items():
        try:
            with open(f"/proc/sysvipc/{kind}", encoding="ascii") as f:
                header, *rows = [line.split() for line in f]
        except (OSError, ValueError):
            continue
        for row in rows:
            fields = dict(zip(header, row, strict=False))
            if str(uid) in (fields.get("uid"), fields.get("cuid")):
                rm(int(row[1]))  # the second column is the id


# ---- reading the result ---------------------------------------------------------------------

def _kill_group(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _tail(f: IO[bytes], limit: int = 64 << 10) -> str:
    size = f.seek(0, os.SEEK_END)
    f.seek(max(0, size - limit))
    return f.read().decode("utf-8", "replace")


def _read(stdout: str, stderr: str, code: int, nonce: str) -> RunResult:
    marker = f"@@evalsuite {nonce} "
    lines = [ln for ln in stdout.splitlines() if ln.startswith(marker)]
    if not lines:
        why = f"killed by signal {-code}" if code < 0 else f"exit {code}"
        last = next((ln.strip() for ln in reversed(stderr.splitlines()) if ln.strip()), "")
        return RunResult(False, 0, 0, f"{why} before the tests finished" + (f": {last[:200]}" if last else ""))
    result = json.loads(lines[-1][len(marker):])
    checks, passed, failures = result["checks"], result["passed"], result["failures"]
    if code == 0 and not failures:
        return RunResult(True, checks, passed, f"{passed} of {checks} checks passed")
    head = f"{passed} of {checks} checks passed" if not result.get("fatal") or checks else "failed"
    return RunResult(False, checks, passed, f"{head}; {failures[0]}" if failures else f"{head}; exit {code}")
