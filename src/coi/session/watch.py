"""Noticing that a session ended, without polling.

The tool runs in tmux session `coi-<container>`, the only one of the container's tmux
server, so the server exits when that session ends. `tmux wait-for CHANNEL` blocks
until the channel is signalled or the server goes away: one long-lived exec that costs
nothing while it waits. The session's `session-closed` hook signals the channel, for the
case where someone started another tmux session and the server stays up. When the exec
returns (or drops: daemon restart, network), the container is asked what happened.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from enum import Enum
from typing import TYPE_CHECKING

from coi.errors import CoiError, NotFound
from coi.session import tmux

if TYPE_CHECKING:
    from coi.incus.client import Client


class Ending(Enum):
    ENDED = "ended"  # the tmux session is over; the container still runs
    STOPPED = "stopped"  # the container stopped (poweroff inside, `coi shutdown`, ...)
    GONE = "gone"  # the container was deleted by someone else


def container_status(client: Client, container: str) -> str:
    from coi.incus import instances

    try:
        return instances.get(client, container).status
    except NotFound:
        return "Gone"


def session_alive(client: Client, container: str, uid: int, home: str) -> bool:
    from coi.incus import exec as incus_exec

    result = incus_exec.run(client, container, tmux.has_session_argv(container),
                            user=uid, group=uid, env=tmux.base_env(home), timeout=30)
    return result.exit_code == 0


def wait_for_end(client: Client, container: str, uid: int, home: str,
                 pause: Callable[[float], None] = time.sleep) -> Ending:
    """Block until the session's tmux session ends or its container stops."""
    from coi.incus import exec as incus_exec

    while True:
        started = time.monotonic()
        with contextlib.suppress(CoiError):  # the exec dropped: find out why below
            incus_exec.run(client, container, tmux.wait_argv(), user=uid, group=uid,
                           env=tmux.base_env(home))
        ending = current_ending(client, container, uid, home)
        if ending is not None:
            return ending
        if time.monotonic() - started < 1.0:
            pause(1.0)  # a signal meant for another session, or a flapping daemon


def current_ending(client: Client, container: str, uid: int, home: str) -> Ending | None:
    """What became of the session; None while it goes on, or while the daemon does not
    answer (it may be restarting: the caller tries again)."""
    try:
        return _ending(client, container, uid, home)
    except CoiError:
        return None


def _ending(client: Client, container: str, uid: int, home: str) -> Ending | None:
    status = container_status(client, container)
    if status == "Gone":
        return Ending.GONE
    if status not in ("Running", "Frozen"):
        return Ending.STOPPED
    try:
        return None if session_alive(client, container, uid, home) else Ending.ENDED
    except CoiError:
        status = container_status(client, container)
        if status == "Gone":
            return Ending.GONE
        return None if status in ("Running", "Frozen") else Ending.STOPPED
