"""Getting a session its container: slot choice, leftovers, create or restart, run lock.

All of it happens under the workspace lock (coi.workspace.lock_path), which is released
only once the container exists and its run lock is held: `coi clean` never sees a
container that nobody looks after, and two launches never pick one slot.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from coi.errors import CoiError, IncusConflict
from coi.session import container, isolation, runlock, slots
from coi.session.listing import SessionContainer, session_containers
from coi.session.ownership import mapping_for
from coi.state import file_lock
from coi.workspace import container_name, lock_path, workspace_hash

if TYPE_CHECKING:
    from coi.incus.client import Client
    from coi.session.isolation import Engaged
    from coi.session.ownership import OwnerMapping
    from coi.session.plan import SessionPlan
    from coi.session.store import SessionStore

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Acquired:
    name: str
    slot: int
    reused: bool
    moved_from: int | None
    run_lock: int  # descriptor of the held run lock; hand it on or release it
    engaged: Engaged  # its isolation, in place; the caller proves it (isolation.prove)


def acquire(client: Client, plan: SessionPlan, store: SessionStore, *, session_id: str,
            persistent: bool, resume_container: str | None = None,
            incus_ephemeral: bool = False, progress: Progress = lambda _: None) -> Acquired:
    """Pick, prepare and start the session's container, isolated; hold its run lock."""
    mapping = mapping_for(plan.workspace, plan.code_uid)
    with file_lock(lock_path(plan.coi_home, plan.workspace), timeout=600, owner=plan.owner):
        existing = _existing(client, plan)
        placement = slots.place(
            [seen for _, seen in existing], persistent=persistent, requested=plan.slot,
            resume_container=resume_container,
            name_for=lambda slot: container_name(plan.workspace, slot, plan.prefix))
        if placement.leftover is not None:
            leftover = next(c for c, _ in existing if c.name == placement.leftover.name)
            _retire(client, store, leftover, progress, plan.coi_home)
        fd = runlock.acquire(plan.coi_home, placement.name, plan.owner)
        try:
            spec = Spec(mapping, session_id, persistent, incus_ephemeral)
            engaged = _bring_up(client, plan, placement, spec, progress=progress)
        except BaseException:
            runlock.release(fd)
            raise
    return Acquired(placement.name, placement.slot, placement.reuse, placement.moved_from, fd,
                    engaged)


@dataclass(frozen=True)
class Spec:
    mapping: OwnerMapping
    session_id: str
    persistent: bool
    incus_ephemeral: bool


def _existing(client: Client, plan: SessionPlan) -> list[tuple[SessionContainer,
                                                                slots.Existing]]:
    """This workspace's containers, as listed and as slot choice sees them."""
    from coi.incus.instances import list_instances

    prefix = f"{plan.prefix}{workspace_hash(plan.workspace)}-"
    found = list_instances(client, prefix, with_state=False)
    # An Incus-ephemeral container (`coi run`) that is stopped is being deleted by the
    # daemon right now: its name must not be reused until it is gone.
    vanishing = {i.name for i in found if i.ephemeral}
    return [(c, _as_existing(c, plan, c.name in vanishing))
            for c in session_containers(found, plan.prefix)]


def _as_existing(found: SessionContainer, plan: SessionPlan, vanishing: bool) -> slots.Existing:
    busy = (not found.stopped or vanishing
            or runlock.is_supervised(plan.coi_home, found.name))
    return slots.Existing(found.slot, found.name, busy, found.persistent, found.session_id,
                          found.tool)


def _bring_up(client: Client, plan: SessionPlan, placement: slots.Placement, spec: Spec, *,
              progress: Progress) -> Engaged:
    """Isolation first (protected mounts, rules), then the create or the start."""
    guard = isolation.prepare(client, plan, placement.name)
    made = container.definition(plan, spec.mapping, spec.session_id, spec.persistent, guard)
    engaged = isolation.engage(guard, plan.coi_home)
    try:
        _start(client, plan, placement, made, incus_ephemeral=spec.incus_ephemeral,
               progress=progress)
    except IncusConflict:
        raise  # the name is taken: not ours to touch
    except BaseException:
        isolation.release(plan.coi_home, placement.name)
        raise
    return engaged


def _start(client: Client, plan: SessionPlan, placement: slots.Placement,
           spec: container.Definition, *, incus_ephemeral: bool, progress: Progress) -> None:
    from coi.incus import instances

    if placement.reuse:
        progress(f"starting {placement.name}")
        container.reconfigure(client, placement.name, spec)
        try:
            instances.start(client, placement.name, timeout=120)
        except BaseException:
            # Interrupted: it must not run on once its isolation is released.
            with contextlib.suppress(CoiError):
                instances.stop(client, placement.name, force=True, timeout=30)
            raise
        return
    progress(f"creating {placement.name}")
    try:
        container.create(client, placement.name, plan.image, spec, ephemeral=incus_ephemeral)
    except IncusConflict:
        raise
    except BaseException:
        # Failed or interrupted (Ctrl-C) after the daemon may have created it.
        with contextlib.suppress(CoiError):
            instances.delete(client, placement.name, force=True, missing_ok=True)
        raise


def _retire(client: Client, store: SessionStore, leftover: SessionContainer,
            progress: Progress, coi_home: Path) -> None:
    """Save a stopped leftover's session, then delete it (never the other way round)."""
    from coi.incus import instances
    from coi.session.closing import mark_ended
    from coi.session.lifecycle import session_record
    from coi.session.save import save_state

    progress(f"saving and removing the stopped leftover {leftover.name}")
    record = session_record(store, leftover)
    if record is not None:
        try:
            record = save_state(client, store, record)
        except CoiError as exc:
            raise CoiError(f"{leftover.name} is stopped and its session could not be saved: "
                           f"{exc.message}", hint="run `coi clean` to retry") from exc
        mark_ended(store, record, "orphaned")
    instances.delete(client, leftover.name, force=True, missing_ok=True)
    isolation.release(coi_home, leftover.name)
