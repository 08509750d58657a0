"""The real `Backend` of `coi.session.lifecycle`: the Incus daemon and the session runtime."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING

from coi.errors import IncusError, NotFound
from coi.incus import instances
from coi.session.listing import KEY_PERSISTENT
from coi.session.orphans import remove_orphan_files, run_files

if TYPE_CHECKING:
    from coi.incus.client import Client
    from coi.session.listing import SessionContainer
    from coi.session.record import SessionRecord
    from coi.session.store import SessionStore


class IncusBackend:
    """Ends sessions through the daemon, with the runtime's save and ownership steps."""

    def __init__(self, client: Client, store: SessionStore, coi_home: Path, *,
                 code_uid: int, home: str) -> None:
        self.client = client
        self.store = store
        self.coi_home = coi_home
        self.code_uid = code_uid
        self.home = home  # the code user's home in the container

    def save(self, record: SessionRecord) -> SessionRecord:
        from coi.session.save import save_state

        return save_state(self.client, self.store, record, home=self.home)

    def reclaim(self, container: str) -> int:
        from coi.session.ownership import reclaim_workspace

        return reclaim_workspace(self.client, container, self.code_uid)

    def stop(self, container: str, *, force: bool, timeout: int) -> None:
        try:
            instances.stop(self.client, container, force=force, timeout=timeout)
        except NotFound:
            raise
        except IncusError as exc:
            if not (force and exc.status_code == 400):  # 400: it was not running
                raise

    def delete(self, container: str) -> None:
        instances.delete(self.client, container)

    def exists(self, container: str) -> bool:
        try:
            instances.get(self.client, container)
        except NotFound:
            return False
        return True

    def set_persistent(self, container: str) -> None:
        instances.update_config(self.client, container, {KEY_PERSISTENT: "true"})

    def dismiss(self, container: str, *, kill: bool) -> bool:
        """Make the supervisor looking after `container` stand down, so ending the session
        here does not race with it: SIGTERM (it saves once and exits, leaving the
        container) or, for `coi kill`, SIGKILL. Waits until its run lock is free. False
        when no supervisor looks after it (a `coi run` holds its lock itself: it is left
        to notice the container go)."""
        from coi.session.runlock import is_supervised

        pid = supervisor_pid(self.coi_home, container)
        if pid is None or not is_supervised(self.coi_home, container):
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL if kill else signal.SIGTERM)
        deadline = time.monotonic() + (5 if kill else DISMISS_PATIENCE)
        while is_supervised(self.coi_home, container) and time.monotonic() < deadline:
            time.sleep(0.05)
        remove_orphan_files(run_files(self.store, [container]), self.store)
        return True

    def in_use(self, target: SessionContainer) -> bool:
        """A coi process looks after this container: it holds the container's run lock
        (the runtime takes it before it creates or starts the container)."""
        from coi.session.runlock import is_supervised

        return is_supervised(self.coi_home, target.name)


DISMISS_PATIENCE = 30.0  # seconds for a supervisor to save once and exit


def supervisor_pid(coi_home: Path, container: str) -> int | None:
    """The pid in the container's run state, if it is still its supervisor process:
    the same process start time as recorded (so a reused pid is never signalled), or,
    in a run state without one, a command line naming `_supervise` and the container."""
    from coi.session.paths import run_state_path
    from coi.state import process_start_time

    try:
        state = json.loads(run_state_path(coi_home, container).read_text())
        pid = int(state["pid"])
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError, KeyError, TypeError):
        return None
    started = state.get("started")
    if started is not None:
        return pid if process_start_time(pid) == started else None
    if b"_supervise" in argv and container.encode() in argv:
        return pid
    return None
    if b"_supervise" in argv and container.encode() in argv:
        return pid
    return None
