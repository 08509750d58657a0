"""What `coi list` and `coi info` show: session containers and saved sessions.

Containers come from ONE list request (`recursion=2`: config and live state together);
a container is a session container when its name is `<prefix><hash8>-<slot>`. What it
belongs to is read from the `user.coi.*` config keys the runtime sets at creation.
The JSON shapes built here are documented in docs/lifecycle.md; keep them stable.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coi.session.record import SessionRecord
from coi.workspace import parse_container_name

if TYPE_CHECKING:
    from coi.incus.client import Client
    from coi.incus.instances import Instance
    from coi.session.store import SessionStore

# Incus config keys on every session container (set by the runtime when it creates it).
KEY_SESSION = "user.coi.session"
KEY_TOOL = "user.coi.tool"
KEY_WORKSPACE = "user.coi.workspace"
KEY_PERSISTENT = "user.coi.persistent"
KEY_IMAGE = "user.coi.image"
# Set by the session supervisor when the monitor pauses (freezes) or kills the container:
# JSON {"state": "paused"|"killed", "severity", "detector", "title", "time"}.
KEY_MONITOR = "user.coi.monitor"

ALIVE = ("Running", "Frozen")


@dataclass(frozen=True)
class SessionContainer:
    """One session container as `coi list` shows it."""

    name: str
    slot: int
    workspace_hash: str
    status: str  # Incus status: Running, Stopped, Frozen, ...
    persistent: bool
    ipv4: tuple[str, ...]
    image: str
    workspace: str
    created_at: str
    pool: str
    session_id: str | None
    tool: str | None
    monitor: dict[str, Any] | None = None  # the `user.coi.monitor` marker, if set

    @property
    def monitor_state(self) -> str | None:
        """"paused-by-monitor" / "killed-by-monitor", or None."""
        return monitor_state(self.monitor)

    @property
    def running(self) -> bool:
        return self.status == "Running"

    @property
    def stopped(self) -> bool:
        return self.status == "Stopped"

    @property
    def alive(self) -> bool:
        return self.status in ALIVE

    @property
    def mode(self) -> str:
        return "persistent" if self.persistent else "ephemeral"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "status": self.status, "persistent": self.persistent,
            "ipv4": list(self.ipv4), "image": self.image, "workspace": self.workspace,
            "created_at": self.created_at, "slot": self.slot, "pool": self.pool,
            "session_id": self.session_id, "tool": self.tool,
            "monitor_state": self.monitor_state, "monitor": self.monitor,
        }


def parse_monitor(text: str | None) -> dict[str, Any] | None:
    """The `user.coi.monitor` marker as a dict; None when unset or unreadable (a value
    that is not JSON still counts as set: {"state": "paused", "title": <text>})."""
    if not text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return {"state": "paused", "title": text}
    return data if isinstance(data, dict) else {"state": "paused", "title": str(data)}


def monitor_state(marker: dict[str, Any] | None) -> str | None:
    if not marker:
        return None
    return "killed-by-monitor" if marker.get("state") == "killed" else "paused-by-monitor"


def threat_state(record: SessionRecord) -> str | None:
    """A saved session's monitor state, from `record.threat`."""
    if not record.threat:
        return None
    action = record.threat.get("action")
    killed = action == "killed" or (action != "paused" and record.end_reason == "threat")
    return "killed-by-monitor" if killed else "paused-by-monitor"


def from_instance(instance: Instance, prefix: str) -> SessionContainer | None:
    """The session view of an instance, or None when it is not a session container."""
    parsed = parse_container_name(instance.name, prefix)
    if parsed is None:
        return None
    config = instance.config
    live = instance.state
    return SessionContainer(
        name=instance.name, slot=parsed.slot, workspace_hash=parsed.hash,
        status=live.status if live is not None and live.status else instance.status,
        persistent=config.get(KEY_PERSISTENT, "").lower() == "true",
        ipv4=tuple(live.ipv4) if live is not None else (),
        image=config.get(KEY_IMAGE) or config.get("image.description", ""),
        workspace=config.get(KEY_WORKSPACE, ""),
        created_at=instance.created_at,
        pool=instance.expanded_devices.get("root", {}).get("pool", ""),
        session_id=config.get(KEY_SESSION) or None,
        tool=config.get(KEY_TOOL) or None,
        monitor=parse_monitor(config.get(KEY_MONITOR)),
    )


def session_containers(instances: Iterable[Instance], prefix: str) -> list[SessionContainer]:
    """The session containers among `instances`, by name."""
    found = (from_instance(i, prefix) for i in instances)
    return sorted((c for c in found if c is not None), key=lambda c: c.name)


def list_session_containers(client: Client, prefix: str) -> list[SessionContainer]:
    """Every session container with its live state, in one request."""
    from coi.incus.instances import list_instances

    return session_containers(list_instances(client, prefix, with_state=True), prefix)


def filter_status(containers: list[SessionContainer], status: str | None) -> list[SessionContainer]:
    """`running` keeps live containers (Running and Frozen), `stopped` keeps Stopped ones."""
    if status == "running":
        return [c for c in containers if c.alive]
    if status == "stopped":
        return [c for c in containers if c.stopped]
    return containers


# -- saved sessions -----------------------------------------------------------------------


@dataclass(frozen=True)
class SavedSession:
    """A saved session, with what is on disk for it."""

    record: SessionRecord
    path: Path
    state_present: bool
    state_bytes: int | None = None  # only measured for `coi info`

    def to_json(self) -> dict[str, Any]:
        data = self.record.to_json()
        data.update(path=str(self.path), state_present=self.state_present,
                    monitor_state=threat_state(self.record))
        if self.state_bytes is not None:
            data["state_bytes"] = self.state_bytes
        return data


def saved_session(store: SessionStore, record: SessionRecord,
                  measure: bool = False) -> SavedSession:
    state = store.state_dir(record.tool, record.session_id)
    present = state.is_dir()
    size = tree_size(state) if measure and present else (0 if measure else None)
    return SavedSession(record, store.session_dir(record.tool, record.session_id),
                        present, size)


def saved_sessions(store: SessionStore) -> list[SavedSession]:
    """Every saved session of every tool, newest first."""
    return [saved_session(store, record) for record in store.all()]


def tree_size(root: Path) -> int:
    """Bytes in the regular files below `root` (symlinks are not followed)."""
    total = 0
    for directory, _, files in os.walk(root):
        for name in files:
            info = os.lstat(os.path.join(directory, name))
            if stat.S_ISREG(info.st_mode):
                total += info.st_size
    return total


def newest_for_workspace(store: SessionStore, workspace: str) -> SessionRecord | None:
    """The most recent session (any tool) started in `workspace`."""
    return next((r for r in store.all() if r.workspace == workspace), None)
