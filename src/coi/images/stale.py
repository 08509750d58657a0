"""Locks that keep builds apart, and cleanup of what an interrupted build left behind.

Each build holds a lock file named after its container (`~/.coi/locks/coi-build-….lock`)
for as long as the container lives, and removes the container before it lets go. So a
`coi-build-*` container whose lock file exists but is free belongs to a build that died:
it is removed at once. One without a lock file here (another user's build, a wiped
~/.coi) is removed only when it is older than any build runs. An image that a dead build
published but never named (interrupted between publish and alias) goes too.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path

from coi.errors import IncusError
from coi.incus import images, instances
from coi.incus.client import Client
from coi.incus.images import Image
from coi.incus.instances import Instance
from coi.state import file_lock

BUILD_PREFIX = "coi-build-"
BUILD_PROPERTY = "coi.build"  # on a published image: the container it was made from
MAX_BUILD_AGE = timedelta(hours=6)
# A build names its image a moment after publishing it; an unnamed image younger than
# this may be one such moment, seen by a sweep running in parallel.
ORPHAN_GRACE = timedelta(minutes=10)


class LockState(StrEnum):
    HELD = "held"
    FREE = "free"
    ABSENT = "absent"


@dataclass(frozen=True)
class Locks:
    """The lock directory of the invoking user (~/.coi/locks)."""

    directory: Path
    owner: tuple[int, int] | None = None

    def build(self, container: str) -> Path:
        return self.directory / f"{container}.lock"

    def image(self, alias: str) -> Path:
        return self.directory / f"image-{alias}.lock"

    def state(self, container: str) -> LockState:
        return lock_state(self.build(container))


def lock_state(path: Path) -> LockState:
    """Whether some process holds the flock on `path` (without waiting for it)."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return LockState.ABSENT
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return LockState.HELD
    finally:
        os.close(fd)
    return LockState.FREE


@contextlib.contextmanager
def build_lock(locks: Locks, container: str) -> Iterator[None]:
    """Held while the build container lives; the file goes when the build is over."""
    path = locks.build(container)
    with file_lock(path, timeout=0, owner=locks.owner):
        try:
            yield
        finally:
            path.unlink(missing_ok=True)


def timestamp(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return datetime.fromtimestamp(0, UTC)  # unknown: treat as old


def is_stale(instance: Instance, lock: LockState, now: datetime) -> bool:
    if not instance.name.startswith(BUILD_PREFIX) or lock is LockState.HELD:
        return False
    return lock is LockState.FREE or now - timestamp(instance.created_at) > MAX_BUILD_AGE


def stale_builds(found: Iterable[Instance], lock_of: Callable[[str], LockState],
                 now: datetime) -> list[str]:
    return [i.name for i in found if is_stale(i, lock_of(i.name), now)]


def orphan_images(found: Iterable[Image], live: set[str], now: datetime) -> list[str]:
    """Unnamed images published by a build container that is no longer at work."""
    return [i.fingerprint for i in found
            if not i.aliases and BUILD_PROPERTY in i.properties
            and i.properties[BUILD_PROPERTY] not in live
            and now - timestamp(i.uploaded_at) > ORPHAN_GRACE]


def sweep(client: Client, locks: Locks, now: datetime | None = None) -> list[str]:
    """Remove stale build containers and orphan images; say what went."""
    moment = now or datetime.now(UTC)
    containers = instances.list_instances(client, BUILD_PREFIX, with_state=False)
    stale = stale_builds(containers, locks.state, moment)
    removed = []
    for name in stale:
        with contextlib.suppress(IncusError):
            instances.delete(client, name, force=True, missing_ok=True)
            locks.build(name).unlink(missing_ok=True)
            removed.append(f"removed the leftover build container {name}")
    live = {i.name for i in containers} - set(stale)
    for fingerprint in orphan_images(images.list_images(client), live, moment):
        with contextlib.suppress(IncusError):
            images.delete_image(client, fingerprint)
            removed.append(f"removed the unnamed image {fingerprint[:12]} of a failed build")
    return removed
