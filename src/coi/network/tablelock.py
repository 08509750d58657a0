"""One coi process at a time changes `table inet coi`.

Every change reads the table, plans, then applies: two processes doing that at once
(two sessions starting, or every supervisor repairing after the table was flushed)
would each add the shared part they found missing, twice, and could pick the same
nflog group. A host-wide `flock` around read-plan-apply serializes them. The lock file
lives in a world-writable sticky directory every user's coi can reach; it is opened
read-only (flock does not need more), created only when missing.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

LOCK_DIRS = (Path("/run/lock"), Path("/tmp"))
LOCK_NAME = "coi-nft.lock"


def lock_path() -> Path:
    for directory in LOCK_DIRS:
        if directory.is_dir():
            return directory / LOCK_NAME
    return LOCK_DIRS[-1] / LOCK_NAME


def _open(path: Path) -> int | None:
    try:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        pass
    except OSError:
        return None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError:
        return None
    with contextlib.suppress(OSError):
        os.fchmod(fd, 0o644)
    return fd


@contextlib.contextmanager
def changing() -> Iterator[None]:
    """Hold the table lock (blocking). Without a usable lock file, go on unlocked:
    the worst case is a duplicate of the shared rules, which checks tolerate."""
    fd = _open(lock_path())
    if fd is None:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
