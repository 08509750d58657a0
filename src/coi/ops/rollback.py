"""`coi snapshot restore`: put a container (and its workspace) back to a snapshot.

First `plan` checks everything and says what will happen, so the command can ask
before anything changes. `restore` then snapshots the current state as
`pre-restore-YYYYMMDD-HHMMSS` (container, plus the workspace when the snapshot has one),
rolls the container back, and swaps the workspace content (coi.ops.wsrestore).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from coi.errors import CoiError, NotFound
from coi.incus import snapshots as incus_snapshots
from coi.ops import containers, snapshots, wsrestore
from coi.ops.snapstore import SnapshotStore
from coi.ops.target import NotRunning, require, workspace_source

if TYPE_CHECKING:
    from coi.incus.client import Client

PRE_RESTORE = "pre-restore"


@dataclass(frozen=True)
class Plan:
    container: str
    snapshot: snapshots.SnapshotView
    workspace: Path | None  # restored too when set
    running: bool  # the container must be stopped first (only with stop=True)


@dataclass(frozen=True)
class Restored:
    plan: Plan
    pre_restore: str
    stopped: bool
    files: int = 0
    cleaned: list[str] = field(default_factory=list)  # leftovers of interrupted restores


def plan(client: Client, store: SnapshotStore, container: str, name: str, *,
         stop: bool = False) -> Plan:
    view = snapshots.info(client, store, container, name)
    if not view.container_snapshot:
        raise NotFound(f"snapshot {name!r} of {container} has only its workspace part left "
                       "(the container snapshot was deleted)",
                       hint=f"delete it with `coi snapshot delete {name} -c {container}`")
    instance = require(client, container)
    running = instance.status != "Stopped"
    if running and not stop:
        raise NotRunning(f"container {container} is running; restoring needs it stopped",
                         hint=f"stop it with `coi container stop {container}`, or pass "
                              "--stop to have coi stop it")
    workspace = Path(view.workspace.workspace) if view.workspace else None
    if workspace is not None and not workspace.is_dir():
        raise NotFound(f"the workspace {workspace} is gone",
                       hint="recreate the directory (empty) and restore again")
    mounted = workspace_source(instance)
    if workspace is not None and (mounted is None or Path(mounted) != workspace):
        raise CoiError(f"snapshot {name!r} holds the workspace {workspace}, but {container} "
                       f"now mounts {mounted or 'no workspace'} at /workspace",
                       hint="coi restores a workspace only into the container that uses it")
    return Plan(container, view, workspace, running)


def restore(client: Client, store: SnapshotStore, todo: Plan, *, now: datetime,
            stateful: bool = False) -> Restored:
    name = todo.snapshot.name
    if todo.running:
        containers.stop(client, todo.container)
    pre = snapshots.create(client, store, todo.container, None, now=now,
                           workspace=todo.workspace is not None, prefix=PRE_RESTORE)
    incus_snapshots.restore(client, todo.container, name, stateful=stateful, timeout=600)
    if todo.workspace is None:
        return Restored(todo, pre.name, todo.running)
    try:
        cleaned = wsrestore.remove_leftovers(todo.workspace)
        stats = wsrestore.restore_tree(store.copy_dir(todo.container, name), todo.workspace,
                                       name, pre.name)
    except OSError as exc:
        raise CoiError(f"the container was restored but the workspace was not: {exc}",
                       hint=f"the state from before is in snapshot {pre.name}; fix the "
                            "cause and restore again") from exc
    return Restored(todo, pre.name, todo.running, stats.files, cleaned)
