"""Snapshot naming, the workspace-copy store, and the JSON shapes of `coi snapshot`."""

from __future__ import annotations

import json
import os
import stat
from datetime import datetime
from pathlib import Path

import pytest

from coi.errors import UsageError
from coi.incus.snapshots import Snapshot
from coi.ops.snapshots import SnapshotView, _view, free_name, stamp_name
from coi.ops.snapstore import SnapshotStore, WorkspaceRecord, check_name


def test_default_names() -> None:
    now = datetime(2025, 3, 9, 7, 5, 2)
    assert stamp_name("snap", now) == "snap-20250309-070502"
    assert stamp_name("pre-restore", now) == "pre-restore-20250309-070502"


def test_free_name_adds_a_counter_on_a_clash() -> None:
    assert free_name("snap-1", set()) == "snap-1"
    assert free_name("snap-1", {"snap-1", "snap-1-2"}) == "snap-1-3"


@pytest.mark.parametrize("bad", ["", "a/b", "..", ".hidden", "-x", "x" * 64, "sp ace"])
def test_names_that_could_escape_the_store_are_refused(bad: str) -> None:
    with pytest.raises(UsageError):
        check_name("snapshot", bad)


def test_view_json_shape() -> None:
    record = WorkspaceRecord("/w", "c", "s", "2025-01-01T00:00:00+00:00", 3, 42)
    snap = Snapshot("s", "2025-01-01T00:00:00Z", False)
    assert _view(snap, record, "s").to_json() == {
        "name": "s", "created_at": "2025-01-01T00:00:00Z", "stateful": False,
        "container_snapshot": True,
        "workspace": {"path": "/w", "files": 3, "bytes": 42,
                      "created": "2025-01-01T00:00:00+00:00"}}
    orphan = _view(None, record, "s")
    assert (orphan.container_snapshot, orphan.created_at) == (False, record.created)
    assert SnapshotView("n", "t", True, True, None).to_json()["workspace"] is None


def test_store_saves_loads_and_deletes(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "a.txt").write_text("a")
    (ws / ".env").write_text("K=V")
    (ws / ".coi-restore-1234").mkdir()  # a leftover of ours is not part of the workspace
    store = SnapshotStore(tmp_path / "home" / ".coi" / "snapshots")
    record = store.save(ws, "coi-abc-1", "s1", "2025-01-01T00:00:00+00:00")
    assert (record.files, record.bytes, record.workspace) == (2, 4, str(ws))
    entry = store.entry("coi-abc-1", "s1")
    assert sorted(os.listdir(entry)) == ["metadata.json", "workspace"]
    assert stat.S_IMODE(entry.stat().st_mode) == 0o700  # it may hold secrets
    meta = json.loads((entry / "metadata.json").read_text())
    assert meta["schema_version"] == 1 and meta["snapshot"] == "s1"
    assert sorted(os.listdir(entry / "workspace")) == [".env", "a.txt"]
    assert store.load("coi-abc-1", "s1") == record
    assert store.all("coi-abc-1") == {"s1": record}
    assert list(store.names("coi-abc-1")) == ["s1"]
    assert store.delete("coi-abc-1", "s1") is True
    assert store.delete("coi-abc-1", "s1") is False
    assert store.load("coi-abc-1", "s1") is None
    assert not (tmp_path / "home" / ".coi" / "snapshots" / "coi-abc-1").exists()


def test_a_failed_copy_leaves_no_entry_that_looks_complete(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    from coi.errors import CoiError
    from coi.ops import wscopy

    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "a").write_text("a")

    def fail(src: int, dst: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(wscopy, "copy_data", fail)
    store = SnapshotStore(tmp_path / "snaps")
    with pytest.raises(CoiError, match="copy the workspace"):
        store.save(ws, "c", "s", "now")
    assert store.load("c", "s") is None
    assert os.listdir(store.entry("c", "s")) == []
