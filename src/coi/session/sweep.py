"""`coi clean`: decide which session containers, saved sessions and leftover files go,
then remove them, saving every session's data first.

Containers (from one list request):
- stopped and ephemeral: a leftover, deleted;
- stopped and persistent: kept, unless `--all`;
- running or frozen, and no coi process looks after it (its supervisor died, e.g. after
  `kill -9`): orphaned, saved and stopped, then deleted (ephemeral) or kept stopped
  (persistent; deleted too with `--all`);
- a container whose session is not in this user's store was not started by this user
  (or its record is gone): running ones are never touched, stopped ones only with --all.
Each step is a separate function over the plan, so a new kind (e.g. network rules) is one
more planner and one more executor.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from coi.session.lifecycle import End, Outcome, end_session, has_stored_session
from coi.session.orphans import OrphanFile, find_orphan_files, remove_orphan_files, run_files
from coi.session.record import SessionRecord

if TYPE_CHECKING:
    from coi.session.lifecycle import Backend
    from coi.session.listing import SessionContainer
    from coi.session.store import SessionStore


@dataclass(frozen=True)
class Decision:
    """One container and what clean does with it (`action` is remove, stop or keep)."""

    container: SessionContainer
    action: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.container.name, "status": self.container.status,
                "persistent": self.container.persistent,
                "session_id": self.container.session_id,
                "action": self.action, "reason": self.reason}


@dataclass(frozen=True)
class CleanPlan:
    containers: tuple[Decision, ...] = ()
    sessions: tuple[SessionRecord, ...] = ()
    files: tuple[OrphanFile, ...] = ()

    @property
    def work(self) -> list[Decision]:
        return [d for d in self.containers if d.action != "keep"]

    @property
    def empty(self) -> bool:
        return not (self.work or self.sessions or self.files)


@dataclass
class CleanReport:
    outcomes: list[Outcome] = field(default_factory=list)
    sessions_deleted: list[str] = field(default_factory=list)
    sessions_skipped: list[str] = field(default_factory=list)
    files_removed: list[str] = field(default_factory=list)

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.failed]


def decide(container: SessionContainer, ours: bool, in_use: Callable[[], bool],
           everything: bool) -> Decision:
    """What clean does with one container. `in_use` is asked only for live ones."""
    keep_persistent = container.persistent and not everything
    if container.stopped:
        if not ours and not everything:
            return Decision(container, "keep", "no session of yours; --all removes it")
        if keep_persistent:
            return Decision(container, "keep", "persistent; --all removes it")
        return Decision(container, "remove", "stopped leftover")
    if not container.alive:
        return Decision(container, "keep", f"busy ({container.status})")
    if not ours:
        return Decision(container, "keep", "running, not started by you")
    if in_use():
        return Decision(container, "keep", "in use")
    action = "stop" if keep_persistent else "remove"
    return Decision(container, action, "orphaned: no coi process looks after it")


def plan_containers(containers: Sequence[SessionContainer], store: SessionStore,
                    in_use: Callable[[SessionContainer], bool],
                    everything: bool) -> tuple[Decision, ...]:
    return tuple(decide(c, has_stored_session(store, c), partial(in_use, c), everything)
                 for c in containers)


def plan_sessions(store: SessionStore, decisions: Sequence[Decision]) -> tuple[SessionRecord, ...]:
    """Saved sessions (every tool, every workspace) whose container will be gone."""
    staying = {d.container.name for d in decisions if d.action != "remove"}
    return tuple(r for r in store.all() if r.container not in staying)


def plan_files(store: SessionStore, decisions: Sequence[Decision],
               orphans: bool) -> tuple[OrphanFile, ...]:
    """The run state of the containers clean ends; with `orphans`, every leftover file."""
    ended = [d.container.name for d in decisions if d.action != "keep"]
    found = list(run_files(store, ended))
    if orphans:
        alive = {d.container.name for d in decisions
                 if d.action == "keep" and d.container.alive}
        hashes = {d.container.workspace_hash for d in decisions if d.action != "remove"}
        found += find_orphan_files(store, alive, hashes)
    return tuple(dict.fromkeys(found))


@dataclass(frozen=True)
class CleanOptions:
    everything: bool = False  # --all: persistent stopped containers and orphans too
    sessions: bool = False  # --sessions: saved sessions whose container is gone
    orphans: bool = False  # --orphans: leftover files (and later other resources)


def plan_clean(containers: Sequence[SessionContainer], store: SessionStore,
               in_use: Callable[[SessionContainer], bool], options: CleanOptions) -> CleanPlan:
    decisions = plan_containers(containers, store, in_use, options.everything)
    return CleanPlan(
        containers=decisions,
        sessions=plan_sessions(store, decisions) if options.sessions else (),
        files=plan_files(store, decisions, options.orphans or options.everything),
    )


def execute(plan: CleanPlan, backend: Backend, store: SessionStore,
            in_use: Callable[[SessionContainer], bool], timeout: int) -> CleanReport:
    """Carry out `plan`. Orphans are re-checked first: a session may have come back."""
    report = CleanReport()
    for decision in plan.work:
        report.outcomes.append(_clean_container(decision, backend, store, in_use, timeout))
    still_there = {o.container for o in report.outcomes if o.action in ("failed", "unchanged")}
    for record in plan.sessions:
        deleted = record.container not in still_there and _delete_session(store, record)
        (report.sessions_deleted if deleted else report.sessions_skipped).append(
            record.session_id)
    failed = {o.container for o in report.failures}
    files = [f for f in plan.files if not (f.kind == "run-state" and f.path.stem in failed)]
    report.files_removed = [str(f.path) for f in remove_orphan_files(files, store)]
    return report


def _clean_container(decision: Decision, backend: Backend, store: SessionStore,
                     in_use: Callable[[SessionContainer], bool], timeout: int) -> Outcome:
    target = decision.container
    if target.alive and in_use(target):
        return Outcome(target.name, "unchanged", target.session_id,
                       notes=("a coi process took it over meanwhile",))
    return end_session(backend, store, target, End.ORPHAN, timeout=timeout,
                       delete_persistent=decision.action == "remove")


def _delete_session(store: SessionStore, record: SessionRecord) -> bool:
    """Delete one saved session (and its lock file, while holding it) unless something
    (a save) holds its lock right now."""
    from coi.errors import CoiTimeout

    try:
        with store.lock(record.tool, record.session_id, timeout=0):
            store.delete(record.tool, record.session_id)
            store.lock_path(record.tool, record.session_id).unlink(missing_ok=True)
    except CoiTimeout:
        return False
    return True
