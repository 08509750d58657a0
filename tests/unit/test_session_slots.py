"""Which container a session gets (pure decisions) and which session --resume means."""

from __future__ import annotations

from pathlib import Path

import pytest

from coi.errors import AlreadyExists, NotFound, UsageError
from coi.session.record import SessionRecord, new_session_id, now_iso
from coi.session.resume import select_resume
from coi.session.slots import Existing, Placement, place
from coi.session.store import SessionStore


def name(slot: int) -> str:
    return f"coi-abcd1234-{slot}"


def ex(slot: int, *, busy: bool = False, persistent: bool = False) -> Existing:
    return Existing(slot, name(slot), busy, persistent)


def choose(existing: list[Existing], *, persistent: bool = False, requested: int | None = None,
           resume: str | None = None) -> Placement:
    return place(existing, persistent=persistent, requested=requested,
                 resume_container=resume, name_for=name)


def test_auto_takes_the_lowest_slot_without_any_container() -> None:
    assert choose([]) == Placement(1, name(1))
    assert choose([ex(1, busy=True), ex(2), ex(4)]).slot == 3


def test_a_requested_running_slot_moves_up() -> None:
    got = choose([ex(2, busy=True)], requested=2)
    assert (got.slot, got.moved_from) == (3, 2)


def test_a_requested_stopped_leftover_is_saved_then_replaced() -> None:
    got = choose([ex(2)], requested=2)
    assert got.slot == 2 and got.leftover == ex(2) and not got.reuse


def test_an_ephemeral_session_never_takes_over_a_persistent_container() -> None:
    got = choose([ex(2, persistent=True)], requested=2)
    assert got.slot == 3 and got.moved_from == 2


def test_persistent_reuses_the_lowest_stopped_persistent_container() -> None:
    got = choose([ex(1, busy=True, persistent=True), ex(2), ex(3, persistent=True)],
                 persistent=True)
    assert got == Placement(3, name(3), reuse=True)


def test_persistent_without_one_to_reuse_gets_a_new_slot() -> None:
    assert choose([ex(1, busy=True, persistent=True)], persistent=True) == Placement(2, name(2))


def test_resume_goes_back_to_its_container() -> None:
    assert choose([ex(4, persistent=True)], resume=name(4)) == Placement(4, name(4), reuse=True)
    leftover = choose([ex(4)], resume=name(4))
    assert leftover.slot == 4 and leftover.leftover == ex(4)
    with pytest.raises(AlreadyExists, match="still running"):
        choose([ex(4, busy=True)], resume=name(4))
    assert choose([], resume=name(4)) == Placement(1, name(1)), "its container is gone"


def test_full_workspace_reclaims_a_leftover_or_says_what_to_do() -> None:
    full = [ex(s, busy=True) for s in range(1, 11)]
    with pytest.raises(AlreadyExists, match="all 10 slots"):
        choose(full)
    with_leftover = [*full[:6], ex(7), *full[7:]]
    assert choose(with_leftover).leftover == ex(7)


# -- --resume -----------------------------------------------------------------------------


def record(workspace: str, saved: str, *, tool: str = "dummy", state: bool = True,
           **kw: object) -> SessionRecord:
    base = dict(session_id=new_session_id(), tool=tool, workspace=workspace,
                container="c", slot=1, persistent=False, image="coi", created_at=now_iso(),
                saved_at=saved, has_state=state)
    base.update(kw)
    return SessionRecord(**base)  # type: ignore[arg-type]


@pytest.fixture
def store(tmp_path: Path) -> SessionStore:
    return SessionStore(tmp_path)


def test_resume_auto_is_the_newest_of_this_workspace(store: SessionStore) -> None:
    old = record("/w", "2026-01-01T00:00:00+00:00")
    new = record("/w", "2026-02-01T00:00:00+00:00")
    elsewhere = record("/other", "2026-03-01T00:00:00+00:00")
    for r in (old, new, elsewhere):
        store.write(r)
    assert select_resume(store, "/w", "dummy", "auto") == new
    with pytest.raises(NotFound, match="no previous session to resume for this workspace"):
        select_resume(store, "/new", "dummy", "auto")


def test_resume_by_id_refuses_another_workspace(store: SessionStore) -> None:
    theirs = record("/other", "2026-03-01T00:00:00+00:00")
    store.write(theirs)
    with pytest.raises(UsageError, match="belongs to another workspace"):
        select_resume(store, "/w", "dummy", theirs.session_id)
    assert select_resume(store, "/other", "dummy", theirs.session_id) == theirs


def test_resume_by_id_finds_any_tool_unless_one_was_named(store: SessionStore) -> None:
    claude = record("/w", "2026-03-01T00:00:00+00:00", tool="claude")
    store.write(claude)
    assert select_resume(store, "/w", "dummy", claude.session_id) == claude
    with pytest.raises(UsageError, match="is a claude session"):
        select_resume(store, "/w", "dummy", claude.session_id, tool_given=True)


def test_resume_needs_saved_state(store: SessionStore) -> None:
    empty = record("/w", "2026-03-01T00:00:00+00:00", state=False)
    store.write(empty)
    with pytest.raises(NotFound, match="no saved state"):
        select_resume(store, "/w", "dummy", empty.session_id)
    with pytest.raises(NotFound):
        select_resume(store, "/w", "dummy", "auto")
    with pytest.raises(NotFound, match="coi list --all"):
        select_resume(store, "/w", "dummy", new_session_id())
