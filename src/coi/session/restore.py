"""Putting a saved session's state back into a container before the tool starts.

One tar stream into one exec that unpacks it as the code user: files arrive owned by
code (as `chown -R` would make them, without the extra pass), in one request however
many files the state has. Host symlinks are sent as links, never followed.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import TYPE_CHECKING

from coi.errors import CoiError

if TYPE_CHECKING:
    from coi.incus.client import Client
    from coi.incus.exec import ExecSession

UNPACK_SCRIPT = 'mkdir -p "$1" && cd "$1" && exec tar -xf - --no-same-owner'


class _ExecStdin(io.RawIOBase):
    """A write-only file that feeds an exec's stdin (what tarfile writes into)."""

    def __init__(self, session: ExecSession) -> None:
        self.session = session

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        if not self.session.write(bytes(data)):
            raise CoiError("the container stopped reading the restored state")
        return len(data)


def restore_state(client: Client, container: str, state: Path, *, target: str,
                  uid: int, home: str) -> None:
    """Unpack the host directory `state` into `target` in the container, as `uid`."""
    from coi.incus import exec as incus_exec

    errors = bytearray()
    with incus_exec.start(client, container, ["sh", "-c", UNPACK_SCRIPT, "sh", target],
                          user=uid, group=uid, env={"HOME": home},
                          on_stderr=errors.extend) as session:
        with tarfile.open(fileobj=_ExecStdin(session), mode="w|") as archive:
            for entry in sorted(state.iterdir()):
                archive.add(entry, arcname=entry.name, recursive=True)
        session.close_stdin()
        code = session.wait(timeout=600)
    if code != 0:
        detail = errors.decode(errors="replace").strip()[-300:]
        raise CoiError(f"could not restore the saved session into {container}: "
                       f"{detail or f'exit {code}'}")
