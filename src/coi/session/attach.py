"""`coi attach`: which running session to attach to.

As in the original, every coi container with a live tmux session counts (not just this
workspace's): with one, attach to it; with several, the one of this workspace if there
is exactly one such, else the caller lists them for the user to choose.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from coi.errors import CoiError
from coi.session.listing import SessionContainer, list_session_containers
from coi.session.watch import session_alive
from coi.workspace import workspace_hash

if TYPE_CHECKING:
    from coi.incus.client import Client


@dataclass(frozen=True)
class Choice:
    chosen: SessionContainer | None
    candidates: list[SessionContainer]


def live_sessions(client: Client, prefix: str, uid: int, home: str) -> list[SessionContainer]:
    """Running session containers whose tmux session is there to attach to."""
    found = []
    for item in list_session_containers(client, prefix):
        if not item.running:
            continue
        try:
            alive = session_alive(client, item.name, uid, home)
        except CoiError:
            alive = True  # the check itself failed (a busy daemon): let attaching tell
        if alive:
            found.append(item)
    return found


def choose(candidates: list[SessionContainer], workspace: str) -> Choice:
    if len(candidates) == 1:
        return Choice(candidates[0], candidates)
    mine = [c for c in candidates if c.workspace_hash == workspace_hash(workspace)]
    return Choice(mine[0] if len(mine) == 1 else None, candidates)


def by_name(client: Client, prefix: str, name: str) -> SessionContainer:
    """The running session container NAME; NotFound with a hint otherwise."""
    from coi.errors import NotFound

    for item in list_session_containers(client, prefix):
        if item.name == name:
            if not item.running:
                raise NotFound(f"{name} is not running ({item.status.lower()})",
                               hint="`coi shell --resume` or `coi shell --persistent` "
                                    "starts its session again")
            return item
    raise NotFound(f"no coi session container named {name}",
                   hint="`coi list` shows the session containers")
