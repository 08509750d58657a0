"""Rotation and retention of audit logs.

Once a day's first event is behind us, the live `<name>.jsonl` is moved aside as
`<name>.<first-event date>.jsonl` by hard-linking the new name and then unlinking the
live one. Writers open the live name for every append (see `audit.AuditLog`), so a
line lands either in the moved file (same inode) or in a fresh live file: never lost,
never duplicated. Moved files whose last write is older than the retention are deleted;
no writer opens those names. A lock file keeps two rotations from racing each other.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from coi.monitor.audit import read
from coi.monitor.findings import Severity
from coi.state import fsync_dir

ROTATED = re.compile(
    r"^(?P<name>[^.]+)\.(?P<date>\d{4}-\d{2}-\d{2})(?:-(?P<n>\d+))?\.jsonl$")
LIVE = re.compile(r"^[^.]+\.jsonl$")
LOCK_NAME = ".rotate.lock"


def first_event_time(path: Path) -> datetime | None:
    try:
        with path.open("rb") as handle:
            first = handle.readline()
    except FileNotFoundError:
        return None
    try:
        when = datetime.fromisoformat(json.loads(first)["time"])
    except (ValueError, KeyError, TypeError):
        return datetime.fromtimestamp(path.stat().st_mtime, UTC) if first else None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _move_aside(path: Path, date: str) -> Path | None:
    stem = path.name.removesuffix(".jsonl")
    for n in range(1000):
        target = path.with_name(f"{stem}.{date}{f'-{n}' if n else ''}.jsonl")
        try:
            os.link(path, target)
        except FileExistsError:
            continue
        except FileNotFoundError:
            return None
        os.unlink(path)
        return target
    return None


def rotate(directory: Path, retention_days: int, now: datetime) -> list[Path]:
    """Move aside live logs that began before today (UTC), delete moved logs untouched
    for `retention_days`. Returns the files deleted."""
    if not directory.is_dir():
        return []
    with _locked(directory):
        for path in sorted(directory.iterdir()):
            began = first_event_time(path) if LIVE.match(path.name) else None
            if began is not None and began.astimezone(UTC).date() < now.astimezone(UTC).date():
                _move_aside(path, began.astimezone(UTC).date().isoformat())
        deleted = _expire(directory, now - timedelta(days=retention_days))
        fsync_dir(directory)
    return deleted


def _expire(directory: Path, cutoff: datetime) -> list[Path]:
    deleted = []
    for path in sorted(directory.iterdir()):
        if ROTATED.match(path.name) and path.stat().st_mtime < cutoff.timestamp():
            path.unlink(missing_ok=True)
            deleted.append(path)
    return deleted


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    fd = os.open(directory / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing drops the lock


def log_files(directory: Path, container: str) -> list[Path]:
    """A container's rotated logs (oldest first) and then its live log."""
    rotated = []
    for path in directory.glob(f"{container}.*.jsonl"):
        match = ROTATED.match(path.name)
        if match and match.group("name") == container:
            rotated.append(((match.group("date"), int(match.group("n") or 0)), path))
    return [*(p for _, p in sorted(rotated)), directory / f"{container}.jsonl"]


def read_all(directory: Path, container: str,
             levels: Iterable[Severity] | None = None) -> list[dict[str, Any]]:
    """Every event of a container, rotated files first, oldest first."""
    wanted = list(levels) if levels is not None else None
    return [e for path in log_files(directory, container) for e in read(path, wanted)]
