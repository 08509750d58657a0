"""Helpers for the low-level command tests (no tests here): run `coi` as a user would,
and make uniquely named `coi-lt…` containers from the test image."""

from __future__ import annotations

import contextlib
import os
import stat
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path

from coi.errors import IncusError, NotFound
from coi.incus import instances
from coi.incus.client import Client

TEST_IMAGE = os.environ.get("COI_TEST_IMAGE", "coi-test")


def coi(*args: str, env: Mapping[str, str] | None = None, stdin: bytes | None = None,
        cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a child process: its output and exit status are what a user
    sees. stdin is /dev/null unless given (so no test ever waits for input)."""
    result = subprocess.run(
        [sys.executable, "-m", "coi", *args], input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL, capture_output=True,
        env={**os.environ, **(env or {})}, cwd=cwd, timeout=timeout, check=False)
    return subprocess.CompletedProcess(result.args, result.returncode,
                                       result.stdout.decode(errors="replace"),
                                       result.stderr.decode(errors="replace"))


def coi_bytes(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "coi", *args], stdin=subprocess.DEVNULL,
                          capture_output=True, timeout=120, check=False)


def lt_name(tag: str = "") -> str:
    """`coi-lt<random>`: ours alone, and matching the default `coi-` prefix."""
    return f"coi-lt{uuid.uuid4().hex[:8]}{tag}"


def force_delete(client: Client, name: str) -> None:
    with contextlib.suppress(IncusError):
        instances.stop(client, name, force=True)
    with contextlib.suppress(NotFound):
        instances.delete(client, name)


@contextlib.contextmanager
def container(client: Client, *, devices: Mapping[str, Mapping[str, str]] | None = None,
              start: bool = True, tag: str = "") -> Iterator[str]:
    """A fresh container from the test image, force-deleted afterwards."""
    name = lt_name(tag)
    try:
        instances.create(client, name, image=TEST_IMAGE, devices=devices, start=start,
                         timeout=300)
        yield name
    finally:
        force_delete(client, name)


def tree_state(root: Path) -> dict[str, tuple[str, int, bytes]]:
    """Every entry below root: kind, permission bits, and content or link target."""
    found = {}
    for top, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(top) / name
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode):
                found[str(path.relative_to(root))] = ("link", 0, os.readlink(path).encode())
            elif stat.S_ISDIR(info.st_mode):
                found[str(path.relative_to(root))] = ("dir", stat.S_IMODE(info.st_mode), b"")
            else:
                found[str(path.relative_to(root))] = ("file", stat.S_IMODE(info.st_mode),
                                                      path.read_bytes())
    return found
