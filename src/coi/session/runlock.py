"""The run lock: `~/.coi/run/<container>.lock`, held by the coi process looking after a
container for as long as it does (the supervisor of a shell session, or `coi run`).

"Held" is the whole protocol: `coi clean` treats a running container whose lock nobody
holds as orphaned. The lock is an flock on an open file, so it passes to a child that
inherits the descriptor: `coi shell` takes it right after creating the container and
hands it to the supervisor it starts, leaving no moment when nobody holds it. The kernel
drops it when the last holder dies, so a crash can never leave it stuck.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from coi.errors import AlreadyExists
from coi.session.paths import run_lock_path
from coi.state import Owner, make_dirs, same_file


def is_supervised(coi_home: Path, container: str) -> bool:
    """Whether a coi process holds `container`'s run lock (looks after it) right now."""
    path = run_lock_path(coi_home, container)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # also drops the shared lock we may just have taken
    return False


def acquire(coi_home: Path, container: str, owner: Owner | None = None) -> int:
    """Take the run lock; return its descriptor (inheritable: pass it to the supervisor).
    AlreadyExists when another process holds it."""
    path = run_lock_path(coi_home, container)
    make_dirs(path.parent, owner, mode=0o700)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        if owner is not None:
            with contextlib.suppress(OSError):
                os.fchown(fd, *owner)
        if not _lock(fd):
            os.close(fd)
            raise AlreadyExists(f"another coi process looks after {container}",
                                hint=f"attach with `coi attach {container}`")
        if same_file(fd, path):
            return fd
        os.close(fd)  # `coi clean` removed the file meanwhile: lock the new one


def _lock(fd: int, patience: float = 1.0) -> bool:
    """flock, retrying briefly: `is_supervised` takes a shared lock for an instant."""
    deadline = time.monotonic() + patience
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)


def release(fd: int, path: Path | None = None) -> None:
    """Let go of the lock; with `path`, remove the lock file first if it is still ours
    (a finished session leaves no file behind; a waiter re-checks the inode)."""
    if path is not None and same_file(fd, path):
        with contextlib.suppress(OSError):
            path.unlink()
    with contextlib.suppress(OSError):
        os.close(fd)


def release_for(fd: int, coi_home: Path, container: str) -> None:
    release(fd, run_lock_path(coi_home, container))


@contextlib.contextmanager
def held(coi_home: Path, container: str, owner: Owner | None = None) -> Iterator[int]:
    fd = acquire(coi_home, container, owner)
    try:
        yield fd
    finally:
        release(fd)
