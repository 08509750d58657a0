"""Fakes for the lifecycle tests: session containers, records and a recording Backend."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from coi.errors import CoiError, IncusError, NotFound
from coi.session.listing import SessionContainer
from coi.session.record import SessionRecord, new_session_id, now_iso
from coi.session.store import SessionStore

PREFIX = "coi-"


def container(name: str = "coi-0123abcd-1", status: str = "Running", *,
              persistent: bool = False, session_id: str | None = "auto",
              tool: str | None = "dummy", workspace: str = "/ws") -> SessionContainer:
    slot = int(name.rsplit("-", 1)[1])
    return SessionContainer(
        name=name, slot=slot, workspace_hash=name.removeprefix(PREFIX)[:8], status=status,
        persistent=persistent, ipv4=("10.0.0.2",) if status == "Running" else (),
        image="coi-test", workspace=workspace, created_at="2026-11-27T10:00:00Z", pool="p",
        session_id=new_session_id() if session_id == "auto" else session_id, tool=tool,
    )


def stored(store: SessionStore, target: SessionContainer, **kw: object) -> SessionRecord:
    """Write the record of `target`'s session into `store` (as the runtime does)."""
    assert target.session_id and target.tool
    record = SessionRecord(
        session_id=target.session_id, tool=target.tool, workspace=target.workspace,
        container=target.name, slot=target.slot, persistent=target.persistent,
        image=target.image, created_at=now_iso())
    record = replace(record, **kw)  # type: ignore[arg-type]
    store.write(record)
    return record


@dataclass
class FakeBackend:
    """Records every call. `save_fails`: how many saves fail before one works (-1: all).
    `stop_times_out`: a clean stop fails, as the daemon's timeout does. `gone`: the
    container disappears at the first stop (its supervisor removed it)."""

    store: SessionStore
    calls: list[tuple[str, ...]] = field(default_factory=list)
    save_fails: int = 0
    stop_times_out: bool = False
    delete_fails: bool = False
    gone: bool = False
    missing: set[str] = field(default_factory=set)
    busy: set[str] = field(default_factory=set)

    def save(self, record: SessionRecord) -> SessionRecord:
        self.calls.append(("save", record.container))
        if record.container in self.missing:
            raise NotFound(f"no instance {record.container}")
        if self.save_fails:
            self.save_fails -= 1
            raise CoiError("pull failed: disk full")
        saved = record.saved()
        with self.store.lock(record.tool, record.session_id):
            self.store.write(saved)
        return saved

    def reclaim(self, container: str) -> int:
        self.calls.append(("reclaim", container))
        return 0

    def stop(self, container: str, *, force: bool, timeout: int) -> None:
        self.calls.append(("stop", container, "force" if force else f"clean {timeout}s"))
        if self.gone:
            self.missing.add(container)
            raise NotFound(f"no instance {container}")
        if self.stop_times_out and not force:
            raise IncusError("Failed shutting down instance: context deadline exceeded")

    def delete(self, container: str) -> None:
        self.calls.append(("delete", container))
        if self.delete_fails:
            raise IncusError("storage busy")

    def exists(self, container: str) -> bool:
        return container not in self.missing

    def set_persistent(self, container: str) -> None:
        self.calls.append(("persist", container))

    def dismiss(self, container: str, *, kill: bool) -> bool:
        self.calls.append(("dismiss", container, "kill" if kill else "term"))
        return container in self.busy

    def in_use(self, target: SessionContainer) -> bool:
        return target.name in self.busy

    def names(self, action: str) -> list[str]:
        return [call[1] for call in self.calls if call[0] == action]


def store_at(tmp_path: Path) -> SessionStore:
    return SessionStore(tmp_path / ".coi")
