"""The user's terminal in a session: `incus exec -t` into tmux, and what happened after.

The incus CLI does raw mode, window resizes and signals well, so an interactive terminal
is handed to it (the one use of the CLI, see DESIGN.md). While it runs, coi ignores the
keyboard signals: Ctrl-C, Ctrl-\\ and Ctrl-Z belong to the program in the container.
Meanwhile an `AlertWatcher` thread (coi.monitor.alerts) writes the security monitor's
alerts (WARNING and worse, from the audit log) to the same terminal.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coi.errors import CoiError, NotFound
from coi.session.runlock import is_supervised
from coi.session.watch import container_status, session_alive

if TYPE_CHECKING:
    from coi.incus.client import Client
    from coi.monitor.alerts import AlertWatcher
    from coi.session.record import SessionRecord
    from coi.session.store import SessionStore

KEYBOARD_SIGNALS = (signal.SIGINT, signal.SIGQUIT, signal.SIGTSTP)


@contextlib.contextmanager
def keyboard_signals_ignored() -> Iterator[None]:
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in KEYBOARD_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_terminal(argv: Sequence[str], *, alerts: AlertWatcher | None = None) -> int:
    """Run an interactive `incus exec -t …` in this terminal; its exit status. With
    `alerts`, the monitor's alerts are shown meanwhile (the watcher is stopped after)."""
    try:
        with keyboard_signals_ignored():
            if alerts is not None:
                alerts.start()
            try:
                return subprocess.call(list(argv))
            finally:
                if alerts is not None:
                    alerts.stop()
    except FileNotFoundError:
        raise CoiError("the `incus` command is needed for an interactive terminal",
                       hint="install the Incus client (`coi setup` does)") from None


def alert_watcher(coi_home: Path, container: str, fd: int = 1) -> AlertWatcher | None:
    """A watcher of `container`'s audit log writing to `fd`, when `fd` is a terminal."""
    import os

    from coi.monitor.alerts import AlertWatcher, terminal_writer
    from coi.monitor.audit import audit_path

    if not os.isatty(fd):
        return None
    return AlertWatcher(audit_path(coi_home, container), terminal_writer(fd))


@dataclass(frozen=True)
class AfterAttach:
    """`detached`: the session still runs (Ctrl-b d, or the terminal went away), or is
    paused: `monitor` is then the container's `user.coi.monitor` marker, if any.
    Otherwise it ended and `record` is the session as its supervisor left it (its
    `threat` says whether the monitor killed it). `alerts`: the alerts shown meanwhile."""

    detached: bool
    record: SessionRecord | None = None
    monitor: dict[str, Any] | None = None
    alerts: tuple[dict[str, Any], ...] = field(default=())

    @property
    def frozen(self) -> bool:
        return self.monitor is not None


def after_attach(client: Client, store: SessionStore, record: SessionRecord, *,
                 coi_home: Path, uid: int, home: str, wait: float = 120.0) -> AfterAttach:
    """Did the user detach, or did the session end? When it ended, wait (up to `wait`
    seconds) for the supervisor to save and clean up, so the result can be shown.
    A frozen container (paused by the monitor) is not asked anything: nothing can run
    in it; the session is left as it is."""
    status = container_status(client, record.container)
    if status == "Frozen":
        return AfterAttach(detached=True, monitor=_marker(client, record.container) or {})
    if _still_running(client, record.container, uid, home):
        return AfterAttach(detached=True)
    deadline = time.monotonic() + wait
    while is_supervised(coi_home, record.container) and time.monotonic() < deadline:
        time.sleep(0.1)
    try:
        return AfterAttach(False, store.load(record.tool, record.session_id))
    except NotFound:
        return AfterAttach(False, None)


def _marker(client: Client, container: str) -> dict[str, Any] | None:
    from coi.incus import instances
    from coi.session.listing import KEY_MONITOR, parse_monitor

    try:
        return parse_monitor(instances.get(client, container).config.get(KEY_MONITOR))
    except CoiError:
        return None


def _still_running(client: Client, container: str, uid: int, home: str) -> bool:
    if container_status(client, container) not in ("Running", "Frozen"):
        return False
    try:
        return session_alive(client, container, uid, home)
    except CoiError:
        return False
