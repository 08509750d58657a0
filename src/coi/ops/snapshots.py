"""`coi snapshot`: container snapshots, optionally with a copy of the workspace.

The workspace is a host bind mount, so an Incus snapshot alone misses the agent's file
changes. With `workspace=True` the workspace is copied too (coi.ops.snapstore), while
the container is frozen, so both parts show the same moment. Restoring such a snapshot
restores both, after snapshotting the current state as `pre-restore-YYYYMMDD-HHMMSS`
so the rollback itself can be undone.

JSON shape of one snapshot (`list` gives {"container", "snapshots": [...]}):
    {"name", "created_at", "stateful", "container_snapshot": bool,
     "workspace": null | {"path", "files", "bytes", "created"}}
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coi.errors import AlreadyExists, CoiError, NotFound
from coi.incus import instances
from coi.incus import snapshots as incus_snapshots
from coi.ops.snapstore import SnapshotStore, WorkspaceRecord, check_name
from coi.ops.target import require, workspace_source

if TYPE_CHECKING:
    from coi.incus.client import Client
    from coi.incus.snapshots import Snapshot


def stamp_name(prefix: str, now: datetime) -> str:
    return f"{prefix}-{now.strftime('%Y%m%d-%H%M%S')}"


def free_name(base: str, taken: set[str]) -> str:
    """`base`, or `base-2`, `base-3`… if two snapshots land in the same second."""
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}-{n}"
    return name


@dataclass(frozen=True)
class SnapshotView:
    name: str
    created_at: str
    stateful: bool
    container_snapshot: bool
    workspace: WorkspaceRecord | None

    def to_json(self) -> dict[str, Any]:
        ws = self.workspace
        return {"name": self.name, "created_at": self.created_at, "stateful": self.stateful,
                "container_snapshot": self.container_snapshot,
                "workspace": None if ws is None else {
                    "path": ws.workspace, "files": ws.files, "bytes": ws.bytes,
                    "created": ws.created}}


def _view(snap: Snapshot | None, record: WorkspaceRecord | None, name: str) -> SnapshotView:
    created = snap.created_at if snap else (record.created if record else "")
    return SnapshotView(name, created, bool(snap and snap.stateful), snap is not None, record)


def listing(client: Client, store: SnapshotStore, container: str) -> list[SnapshotView]:
    require(client, container)
    snaps = {s.name: s for s in incus_snapshots.list_snapshots(client, container)}
    records = store.all(container)
    views = [_view(snaps.get(n), records.get(n), n) for n in {*snaps, *records}]
    return sorted(views, key=lambda v: (v.created_at, v.name))


def info(client: Client, store: SnapshotStore, container: str, name: str) -> SnapshotView:
    check_name("snapshot", name)
    for view in listing(client, store, container):
        if view.name == name:
            return view
    raise NotFound(f"no snapshot {name!r} of {container}",
                   hint=f"`coi snapshot list -c {container}` shows them")


@contextlib.contextmanager
def frozen(client: Client, name: str, status: str) -> Iterator[None]:
    """Pause a running container for the duration; leave any other state alone (a
    container the monitor froze stays frozen)."""
    if status != "Running":
        yield
        return
    instances.freeze(client, name)
    try:
        yield
    finally:
        instances.unfreeze(client, name)


def create(client: Client, store: SnapshotStore, container: str, name: str | None, *,
           now: datetime, stateful: bool = False, workspace: bool = False,
           prefix: str = "snap") -> SnapshotView:
    instance = require(client, container)
    source = _workspace_of(instance.name, workspace_source(instance)) if workspace else None
    taken = {s.name for s in incus_snapshots.list_snapshots(client, container)}
    taken |= set(store.names(container))
    if name is None:
        name = free_name(stamp_name(prefix, now), taken)
    check_name("snapshot", name)
    if name in taken:
        raise AlreadyExists(f"{container} has a snapshot named {name!r} already",
                            hint="pick another name, or delete the old one first")
    created = now.astimezone().isoformat(timespec="seconds")
    # Frozen only with a workspace: the Incus snapshot alone is atomic by itself.
    pause = frozen(client, container, instance.status) if source else contextlib.nullcontext()
    with pause:
        incus_snapshots.create(client, container, name, stateful=stateful, timeout=600)
        record = _save_workspace(client, store, container, name, source=source,
                                 created=created)
    return _view(incus_snapshots.get(client, container, name), record, name)


def _workspace_of(container: str, source: str | None) -> Path:
    if source is None:
        raise CoiError(f"{container} has no workspace mounted at /workspace",
                       hint="drop --workspace to snapshot the container alone")
    path = Path(source)
    if not path.is_dir():
        raise NotFound(f"the workspace {path} of {container} is not a directory")
    return path


def _save_workspace(client: Client, store: SnapshotStore, container: str, name: str, *,
                    source: Path | None, created: str) -> WorkspaceRecord | None:
    if source is None:
        return None
    try:
        return store.save(source, container, name, created)
    except BaseException:
        # Without its workspace half the snapshot would mislead: take the container
        # half back too.
        with contextlib.suppress(CoiError):
            incus_snapshots.delete(client, container, name)
        raise


def delete(client: Client, store: SnapshotStore, container: str, name: str) -> None:
    check_name("snapshot", name)
    require(client, container)
    gone = False
    with contextlib.suppress(NotFound):
        incus_snapshots.delete(client, container, name, timeout=600)
        gone = True
    gone = store.delete(container, name) or gone
    if not gone:
        raise NotFound(f"no snapshot {name!r} of {container}",
                       hint=f"`coi snapshot list -c {container}` shows them")


def delete_all(client: Client, store: SnapshotStore, container: str) -> list[str]:
    names = [view.name for view in listing(client, store, container)]
    for name in names:
        delete(client, store, container, name)
    return names
