"""Host-side reads and writes that never follow a symlink out of their directory.

Everything below a chosen directory is opened relative to a directory descriptor with
O_NOFOLLOW, and files are written to a temporary name and renamed into place. So a
symlink or hard link in the destination, even one swapped in while we work (by a
container that shares the directory, say), cannot redirect a read or write elsewhere.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Iterable, Iterator, Sequence

from coi.errors import CoiError
from coi.incus.transport import BLOCK_SIZE

# Setuid and setgid bits from a container must never appear on the host.
SAFE_MODE_BITS = 0o1777
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


@contextlib.contextmanager
def host_errors(what: str) -> Iterator[None]:
    """Turn an OSError into a CoiError that names what we were doing."""
    try:
        yield
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        raise CoiError(f"cannot {what}: {exc.strerror or exc}{where}") from exc


def open_dir(root_fd: int, parts: Sequence[str]) -> int:
    """Open root/parts[0]/parts[1]/..., refusing a symlink at every step."""
    fd = os.dup(root_fd)
    for part in parts:
        try:
            child = os.open(part, DIR_FLAGS, dir_fd=fd)
        finally:
            os.close(fd)
        fd = child
    return fd


def open_source(dir_fd: int | None, name: str) -> int | None:
    """Open a regular file for reading without following a symlink: a descriptor, or
    None when `name` is a symlink. Anything else (a directory, fifo, device) is refused;
    O_NONBLOCK keeps a fifo swapped in at the last moment from blocking the open."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(name, flags, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise CoiError(f"{name} is not a regular file or a symlink")
    return fd


def read_chunks(fd: int, size: int) -> Iterator[bytes]:
    """Exactly `size` bytes of an open file, in pieces (the request promised that many)."""
    left = size
    while left > 0:
        chunk = os.read(fd, min(BLOCK_SIZE, left))
        if not chunk:
            raise CoiError("a file shrank while it was being copied")
        left -= len(chunk)
        yield chunk


def safe_name(name: str) -> bool:
    """A single path component that stays inside its directory."""
    return name not in ("", ".", "..") and "/" not in name and "\0" not in name


def _temp_name() -> str:
    return f".coi-tmp-{secrets.token_hex(6)}"


def _commit(dir_fd: int, temp: str, name: str) -> None:
    """Rename into place: replaces a file or symlink itself, never what it points to."""
    try:
        os.rename(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temp, dir_fd=dir_fd)
        raise


def place_file(dir_fd: int, name: str, chunks: Iterable[bytes], mode: int,
               owner: tuple[int, int] | None = None) -> None:
    """Write `chunks` as dir/name, with `mode` (minus setuid/setgid) and `owner`."""
    temp = _temp_name()
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(temp, flags, 0o600, dir_fd=dir_fd)
    try:
        for chunk in chunks:
            view = memoryview(chunk)
            while view:
                view = view[os.write(fd, view):]
        if owner is not None:
            os.fchown(fd, *owner)
        os.fchmod(fd, mode & SAFE_MODE_BITS)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(temp, dir_fd=dir_fd)
        raise
    os.close(fd)
    _commit(dir_fd, temp, name)


def place_symlink(dir_fd: int, name: str, target: str,
                  owner: tuple[int, int] | None = None) -> None:
    """Make dir/name a symlink to `target` (which is stored, not followed)."""
    temp = _temp_name()
    os.symlink(target, temp, dir_fd=dir_fd)
    if owner is not None:
        os.chown(temp, *owner, dir_fd=dir_fd, follow_symlinks=False)
    _commit(dir_fd, temp, name)


def make_dir(dir_fd: int, name: str) -> None:
    """Ensure dir/name is a real directory (a file or symlink there is replaced). It is
    made private; `finish_dir` sets the final mode once its content is written."""
    try:
        os.mkdir(name, 0o700, dir_fd=dir_fd)
        return
    except FileExistsError:
        if stat.S_ISDIR(os.lstat(name, dir_fd=dir_fd).st_mode):
            return
    os.unlink(name, dir_fd=dir_fd)
    os.mkdir(name, 0o700, dir_fd=dir_fd)


def finish_dir(root_fd: int, parts: Sequence[str], mode: int,
               owner: tuple[int, int] | None = None) -> None:
    fd = open_dir(root_fd, parts)
    try:
        if owner is not None:
            os.fchown(fd, *owner)
        os.fchmod(fd, mode & SAFE_MODE_BITS)
    finally:
        os.close(fd)
