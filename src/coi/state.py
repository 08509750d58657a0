"""coi's state on disk (`~/.coi`): atomic writes, versioned JSON records, file locks.

Every state file is written via a temp file in the same directory, fsynced and renamed, so
a crash or kill leaves either the old or the new content, never half of it. Records carry
a schema version; two coi processes that may race take a lock file first.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from coi.errors import CoiError, CoiTimeout

Owner = tuple[int, int]
SCHEMA_KEY = "schema_version"


def coi_home(home: Path) -> Path:
    """The state directory of the user whose home is `home`."""
    return home / ".coi"


def make_dirs(directory: Path, owner: Owner | None = None, mode: int = 0o755) -> None:
    """Create missing directories; under sudo, give them to the invoking user."""
    missing = [d for d in (directory, *directory.parents) if not d.exists()]
    directory.mkdir(parents=True, exist_ok=True, mode=mode)
    if owner is not None:
        for created in missing:
            os.chown(created, *owner)


def fsync_dir(directory: Path) -> None:
    """Make a rename durable: the directory entry must reach the disk too."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes, mode: int = 0o644,
                       owner: Owner | None = None) -> None:
    """Replace `path` with `data` atomically (temp file + fsync + rename + dir fsync)."""
    make_dirs(path.parent, owner)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        if owner is not None:
            os.chown(tmp, *owner)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def write_record(path: Path, record: Mapping[str, Any], schema_version: int,
                 owner: Owner | None = None, mode: int = 0o600) -> None:
    """Write a JSON record stamped with its schema version."""
    doc = {SCHEMA_KEY: schema_version, **record}
    atomic_write_bytes(path, (json.dumps(doc, indent=2) + "\n").encode(), mode, owner)


def read_record(path: Path, schema_version: int) -> dict[str, Any]:
    """Read a record written by `write_record`; refuse a newer schema than we know."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as exc:
        raise CoiError(f"{path}: unreadable state file: {exc}",
                       hint="move it aside; coi will recreate it") from None
    if not isinstance(doc, dict):
        raise CoiError(f"{path}: unreadable state file: not a JSON object")
    found = doc.get(SCHEMA_KEY, 1)
    if not isinstance(found, int) or found > schema_version:
        raise CoiError(f"{path}: written by a newer coi (schema {found})",
                       hint="upgrade coi to read it")
    return doc


@contextlib.contextmanager
def file_lock(path: Path, timeout: float | None = 60.0, owner: Owner | None = None,
              shared: bool = False) -> Iterator[None]:
    """Hold an flock on `path` (created if missing). The kernel drops it if we die.

    Lock files may be removed by their holder (build locks, `coi clean`): a waiter that
    then gets the lock of the removed file opens the path again, so two processes never
    both believe they hold one lock.
    """
    make_dirs(path.parent, owner)
    deadline = None if timeout is None else time.monotonic() + timeout
    kind = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        if owner is not None:
            with contextlib.suppress(OSError):
                os.fchown(fd, *owner)
        try:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            _acquire(fd, path, left, kind)
        except BaseException:
            os.close(fd)
            raise
        if same_file(fd, path):
            break
        os.close(fd)
    try:
        yield
    finally:
        os.close(fd)  # closing releases the lock


def same_file(fd: int, path: Path) -> bool:
    """Whether the file open as `fd` is still the one at `path` (not removed meanwhile)."""
    try:
        current = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (mine.st_dev, mine.st_ino) == (current.st_dev, current.st_ino)


def _acquire(fd: int, path: Path, timeout: float | None, kind: int) -> None:
    deadline = None if timeout is None else time.monotonic() + timeout
    delay = 0.01
    while True:
        try:
            fcntl.flock(fd, kind | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if deadline is not None and time.monotonic() >= deadline:
                raise CoiTimeout(f"another coi process holds {path}",
                                 hint="wait for it to finish, or run `coi clean`") from None
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


def process_start_time(pid: int) -> int | None:
    """When process `pid` started (clock ticks since boot, /proc/<pid>/stat field 22):
    with the pid, it names one process for good, as pids are reused."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    try:
        return int(fields[19])  # field 22 counted from 1; fields[0] is field 3
    except (IndexError, ValueError):
        return None
