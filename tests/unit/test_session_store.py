from __future__ import annotations

from pathlib import Path

import pytest

from coi.errors import NotFound, UsageError
from coi.session.record import SessionRecord, new_session_id, now_iso
from coi.session.store import SessionStore


def record(workspace: str = "/w", tool: str = "claude", **kw: object) -> SessionRecord:
    base = dict(session_id=new_session_id(), tool=tool, workspace=workspace,
                container="coi-12345678-1", slot=1, persistent=False, image="coi",
                created_at=now_iso())
    base.update(kw)
    return SessionRecord(**base)  # type: ignore[arg-type]


def test_write_load_find(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    rec = record()
    store.write(rec)
    assert store.load("claude", rec.session_id) == rec
    assert store.find(rec.session_id) == rec
    with pytest.raises(NotFound, match="coi list --all"):
        store.find(new_session_id())


def test_latest_is_per_workspace_and_needs_state(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    mine_old = record(saved_at="2026-01-01T00:00:00+00:00", has_state=True)
    mine_new = record(saved_at="2026-02-01T00:00:00+00:00", has_state=True)
    mine_empty = record(saved_at="2026-03-01T00:00:00+00:00", has_state=False)
    other = record(workspace="/elsewhere", saved_at="2026-04-01T00:00:00+00:00", has_state=True)
    for rec in (mine_old, mine_new, mine_empty, other):
        store.write(rec)
    assert store.latest_for("/w", "claude") == mine_new
    assert store.latest_for("/w", "opencode") is None


def test_ids_cannot_escape_the_store(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    for bad in ("../x", "a/b", "..", "", "-rf"):
        with pytest.raises(UsageError):
            store.session_dir("claude", bad)


def test_replace_state_swaps_in_complete_state(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    rec = record()
    store.write(rec)
    first = store.staging_dir("claude", rec.session_id)
    (first / "a").write_text("1")
    store.replace_state("claude", rec.session_id, first)
    second = store.staging_dir("claude", rec.session_id)
    (second / "b").write_text("2")
    store.replace_state("claude", rec.session_id, second)
    state = store.state_dir("claude", rec.session_id)
    assert sorted(p.name for p in state.iterdir()) == ["b"]
    assert sorted(p.name for p in state.parent.iterdir()) == ["metadata.json", "state"]


def test_damaged_record_hides_only_itself(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    good = record()
    store.write(good)
    bad_dir = store.session_dir("claude", new_session_id())
    bad_dir.mkdir(parents=True)
    (bad_dir / "metadata.json").write_text("{oops")
    assert store.all() == [good]


def test_the_session_lock_has_one_path_per_session(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    rec = record()
    path = store.lock_path("claude", rec.session_id)
    assert path == tmp_path / "locks" / f"session-claude-{rec.session_id}.lock"
    with store.lock("claude", rec.session_id):
        assert path.exists()
    with pytest.raises(UsageError):
        store.lock_path("claude", "../x")
