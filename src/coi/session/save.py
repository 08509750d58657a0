"""Saving a session: the tool's state dir, from the container into the session store.

A running container sends its state as one tar stream (one exec, fast for thousands of
small files), unpacked by `coi.session.extract`; a stopped one is read through the file
API (exec needs a running container), symlinks copied as links, never followed. Either
way the new copy is written beside the old one and swapped in only when complete, under
the session's lock, so two saves of one session never interleave. Credentials are never
written into the store.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from coi.errors import CoiError, IncusError, NotFound
from coi.session import credentials
from coi.session.extract import extract_state
from coi.session.paths import CODE_HOME, credentials_dir
from coi.tools import get_tool

if TYPE_CHECKING:
    from coi.incus.client import Client
    from coi.session.record import SessionRecord
    from coi.session.store import SessionStore

NO_STATE_DIR = 3  # exit status of the tar script when the tool never created its state
TAR_SCRIPT = 'cd "$1" 2>/dev/null || exit 3; exec tar --numeric-owner -cf - .'


def save_state(client: Client, store: SessionStore, record: SessionRecord, *,
               home: str = CODE_HOME, host_home: Path | None = None) -> SessionRecord:
    """Pull the tool's state of `record`'s session from its container (running or
    stopped) into `store`, atomically; return the updated record (as stored).

    Nothing changes when the tool has not created its state yet. Raises NotFound when
    the container does not exist, CoiError when the state cannot be read. A login made
    inside the container is kept too (`coi.session.credentials.keep_login`), best effort.
    """
    from coi.incus import instances

    tool = get_tool(record.tool)
    with store.lock(record.tool, record.session_id):
        current = _current(store, record)
        running = instances.get(client, record.container).running
        if tool.state_dir is not None:
            pull = _Pull(client, record.container, posixpath.join(home, tool.state_dir),
                         frozenset(tool.secrets_in_state()), store.owner)
            if _swap_in(store, current, pull, running):
                current = current.saved()
                store.write(current)
    with contextlib.suppress(CoiError, OSError):
        # Best effort: the session's state is safe already; a login not kept only means
        # logging in again next time.
        credentials.keep_login(client, record.container, tool,
                               host_home=host_home or store.root.parent,
                               kept=credentials_dir(store.root, record.tool), home=home,
                               owner=store.owner)
    return current


def _current(store: SessionStore, record: SessionRecord) -> SessionRecord:
    """The stored record when there is one: another coi process (say `coi persist`) may
    have changed it since the caller read it."""
    try:
        stored = store.load(record.tool, record.session_id)
    except NotFound:
        return record
    return replace(stored, container=record.container) if record.container else stored


@dataclass(frozen=True)
class _Pull:
    client: Client
    container: str
    source: str  # the state dir in the container
    drop: frozenset[str]  # credentials inside it, never saved
    owner: tuple[int, int] | None


def _swap_in(store: SessionStore, record: SessionRecord, pull: _Pull, running: bool) -> bool:
    """Fill a staging dir and swap it in; False when there is no state to save."""
    staging = store.staging_dir(record.tool, record.session_id)
    try:
        found = _fill(pull, staging, running)
        if found:
            store.replace_state(record.tool, record.session_id, staging)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # gone already once swapped in
    return found


def _fill(pull: _Pull, staging: Path, running: bool) -> bool:
    if running:
        try:
            return _pull_running(pull, staging)
        except _Stopped:
            pass
    found = _pull_stopped(pull, staging)
    if found and pull.owner is not None:
        give_tree(staging, pull.owner)
    return found


def give_tree(root: Path, owner: tuple[int, int]) -> None:
    """chown a tree we just wrote (as root, for the sudo user), links themselves only."""
    os.lchown(root, *owner)
    for directory, dirs, names in os.walk(root):
        for name in (*dirs, *names):
            os.lchown(os.path.join(directory, name), *owner)


class _Stopped(Exception):
    """The container stopped while it was being read: read it again, through files."""


def _pull_running(pull: _Pull, staging: Path) -> bool:
    from coi.incus import exec as incus_exec
    from coi.incus import instances

    argv = ["sh", "-c", TAR_SCRIPT, "sh", pull.source]
    with tempfile.TemporaryFile(dir=staging.parent) as spool:
        errors = bytearray()
        try:
            with incus_exec.start(pull.client, pull.container, argv, on_stdout=spool.write,
                                  on_stderr=errors.extend) as session:
                session.close_stdin()
                code = session.wait(timeout=600)
        except IncusError:
            if not instances.get(pull.client, pull.container).running:
                raise _Stopped from None
            raise
        if code == NO_STATE_DIR:
            return False
        if code not in (0, 1):  # 1: a file changed while it was read; the copy is usable
            detail = errors.decode(errors="replace").strip()[-300:]
            raise CoiError(f"could not read {pull.source} in {pull.container}: "
                           f"{detail or code}")
        spool.seek(0)
        extract_state(spool, staging, container_root=pull.source, drop=pull.drop,
                      owner=pull.owner)
    return True


def _pull_stopped(pull: _Pull, staging: Path) -> bool:
    from coi.incus import files, filetree

    try:
        info = files.stat(pull.client, pull.container, pull.source)
    except NotFound:
        return False
    if info.type != files.DIRECTORY:
        return False
    filetree.pull_tree(pull.client, pull.container, pull.source, staging, symlinks="copy")
    for relative in pull.drop:
        with contextlib.suppress(FileNotFoundError):
            (staging / relative).unlink()
    drop_escaping_links(staging)
    return True


def drop_escaping_links(root: Path) -> None:
    """Remove symlinks that point outside `root` (as the tar path's filter refuses them):
    a saved state holds no link to the host's /etc or anywhere else."""
    for directory, dirs, names in os.walk(root):
        for name in (*dirs, *names):
            path = os.path.join(directory, name)
            if not os.path.islink(path):
                continue
            target = os.readlink(path)
            resolved = os.path.normpath(os.path.join(directory, target))
            if target.startswith("/") or not (resolved + "/").startswith(str(root) + "/"):
                os.unlink(path)
