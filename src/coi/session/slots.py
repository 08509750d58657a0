"""Which container a session gets: a new one in a free slot, or a stopped one to reuse.

`place` decides from the workspace's containers (pure, unit-tested); `acquire` does it
under the workspace lock, from the listing until the container exists and its run lock
is held, so concurrent `coi shell`/`coi run` of one workspace never pick the same slot.
A stopped ephemeral leftover is only deleted after its session data is saved.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from coi.errors import AlreadyExists
from coi.workspace import MAX_SLOTS, choose_slot


@dataclass(frozen=True)
class Existing:
    """One container of this workspace. `busy`: running, or looked after by a coi
    process (a supervisor closing it); never taken over."""

    slot: int
    name: str
    busy: bool
    persistent: bool
    session_id: str | None = None
    tool: str | None = None


@dataclass(frozen=True)
class Placement:
    slot: int
    name: str
    reuse: bool = False  # start this existing (stopped, persistent) container
    leftover: Existing | None = None  # a stopped ephemeral container to save and delete
    moved_from: int | None = None


def place(existing: Sequence[Existing], *, persistent: bool, requested: int | None,
          resume_container: str | None, name_for: Callable[[int], str]) -> Placement:
    by_slot = {e.slot: e for e in existing}
    resumed = next((e for e in existing if e.name == resume_container), None)
    if resumed is not None:
        return _resume_in(resumed)
    if persistent:
        reusable = _reusable(by_slot, requested)
        if reusable is not None:
            return Placement(reusable.slot, reusable.name, reuse=True)
    occupied = {e.slot: e.busy or e.persistent for e in existing}
    try:
        choice = choose_slot(occupied, requested)
    except AlreadyExists:
        leftovers = [e for e in existing if not e.busy and not e.persistent]
        if requested is not None or not leftovers:
            raise
        first = min(leftovers, key=lambda e: e.slot)
        return Placement(first.slot, first.name, leftover=first)
    found = by_slot.get(choice.slot)
    return Placement(choice.slot, name_for(choice.slot), leftover=found,
                     moved_from=choice.moved_from)


def _resume_in(container: Existing) -> Placement:
    if container.busy:
        raise AlreadyExists(f"that session is still running in {container.name}",
                            hint=f"attach to it with `coi attach {container.name}`")
    if container.persistent:
        return Placement(container.slot, container.name, reuse=True)
    return Placement(container.slot, container.name, leftover=container)


def _reusable(by_slot: dict[int, Existing], requested: int | None) -> Existing | None:
    """A stopped persistent container: the requested slot's, else the lowest."""
    slots = [requested] if requested is not None else range(1, MAX_SLOTS + 1)
    for slot in slots:
        found = by_slot.get(slot)
        if found is not None and found.persistent and not found.busy:
            return found
    return None
