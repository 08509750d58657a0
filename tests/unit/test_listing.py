"""`coi list` / `coi info`: what is read from the daemon's answer, the JSON shapes and text."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from coi.cli import info as info_cmd
from coi.cli import list_cmd
from coi.cli.main import main
from coi.incus.instances import Instance
from coi.session.listing import (
    filter_status,
    newest_for_workspace,
    saved_session,
    saved_sessions,
    session_containers,
)
from coi.session.store import SessionStore
from tests.unit.test_incus_instances import STATE
from tests.unit.test_lifecycle_fakes import container, store_at, stored

CONTAINER_KEYS = {"name", "status", "persistent", "ipv4", "image", "workspace", "created_at",
                  "slot", "pool", "session_id", "tool", "monitor_state", "monitor"}
SESSION_KEYS = {"session_id", "tool", "workspace", "container", "slot", "persistent", "image",
                "created_at", "profile", "saved_at", "ended_at", "end_reason", "has_state",
                "threat",
                "path", "state_present", "monitor_state"}


def api(name: str, status: str = "Running", **config: str) -> dict[str, Any]:
    live = dict(STATE, status=status) if status == "Running" else {
        "status": status, "pid": 0, "network": None}
    return {"name": name, "status": status, "config": {"image.description": "Debian", **config},
            "expanded_devices": {"root": {"type": "disk", "pool": "btrfs1", "path": "/"}},
            "created_at": "2026-11-27T10:00:00.123456789Z", "state": live}


KEYS = {"user.coi.session": "s-1", "user.coi.tool": "dummy", "user.coi.workspace": "/w",
        "user.coi.persistent": "true", "user.coi.image": "coi-test"}


def test_only_session_containers_of_the_prefix_are_listed() -> None:
    instances = [Instance.from_api(api(n)) for n in (
        "coi-0123abcd-2", "coi-0123abcd-1", "coi-0123abcd", "coi-test-x", "other-0123abcd-1",
        "coi-0123ABCD-1")]
    assert [c.name for c in session_containers(instances, "coi-")] == [
        "coi-0123abcd-1", "coi-0123abcd-2"]
    assert session_containers(instances, "coi-m1-") == []


def test_a_session_container_is_read_from_its_keys_and_state() -> None:
    [c] = session_containers([Instance.from_api(api("coi-0123abcd-3", **KEYS))], "coi-")
    assert (c.slot, c.workspace_hash, c.status, c.mode) == (3, "0123abcd", "Running",
                                                            "persistent")
    assert (c.session_id, c.tool, c.workspace, c.image) == ("s-1", "dummy", "/w", "coi-test")
    assert c.ipv4 == ("10.77.0.54",) and c.pool == "btrfs1"
    assert set(c.to_json()) == CONTAINER_KEYS


def test_a_container_without_keys_is_ephemeral_and_shows_the_image_description() -> None:
    [c] = session_containers([Instance.from_api(api("coi-0123abcd-1", "Stopped"))], "coi-")
    assert (c.persistent, c.image, c.session_id, c.ipv4, c.status) == (
        False, "Debian", None, (), "Stopped")


def test_status_filters() -> None:
    cs = [container("coi-0123abcd-1", "Running"), container("coi-0123abcd-2", "Frozen"),
          container("coi-0123abcd-3", "Stopped")]
    assert [c.slot for c in filter_status(cs, "running")] == [1, 2]
    assert [c.slot for c in filter_status(cs, "stopped")] == [3]
    assert filter_status(cs, None) == cs


def test_list_text_like_the_original() -> None:
    running = container("coi-0123abcd-1", persistent=True)
    text = list_cmd.text([running, container("coi-0123abcd-2", "Stopped")], None)
    lines = text.splitlines()
    assert lines[:3] == ["Active Containers:", "------------------",
                         "  coi-0123abcd-1 (persistent)"]
    assert "    Status: Running" in lines and "    IPv4: 10.0.0.2" in lines
    assert "    Created: 2026-11-27 10:00:00 UTC" in lines
    assert "  coi-0123abcd-2 (ephemeral)" in lines
    assert "Saved Sessions:" not in text
    assert list_cmd.text([], []).splitlines() == [
        "Active Containers:", "------------------", "  (none)", "",
        "Saved Sessions:", "---------------", "  (none)"]
    assert list_cmd.text([], None, "stopped").startswith("Stopped Containers:\n")


def test_saved_sessions_newest_first_with_state_and_size(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    old = stored(store, container(), saved_at="2026-01-01T00:00:00+00:00")
    new = stored(store, container(workspace="/other"), saved_at="2026-02-01T00:00:00+00:00",
                 ended_at="2026-02-01T00:00:01+00:00", end_reason="killed", has_state=True)
    state = store.state_dir("dummy", new.session_id)
    state.mkdir()
    (state / "history.jsonl").write_bytes(b"x" * 1500)
    (state / "link").symlink_to("/etc/passwd")
    listed = saved_sessions(store)
    assert [s.record.session_id for s in listed] == [new.session_id, old.session_id]
    assert [s.state_present for s in listed] == [True, False]
    assert set(listed[0].to_json()) == SESSION_KEYS
    measured = saved_session(store, new, measure=True)
    assert measured.state_bytes == 1500  # the symlink is not followed
    text = list_cmd.text([], listed)
    assert f"  {new.session_id}" in text and "    Ended: 2026-02-01 00:00:01 UTC (killed)" in text


def test_info_text_and_newest_of_a_workspace(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    stored(store, container(), saved_at="2026-01-01T00:00:00+00:00")
    newest = stored(store, container(), saved_at="2026-03-01T00:00:00+00:00")
    stored(store, container(workspace="/else"), saved_at="2026-05-01T00:00:00+00:00")
    assert newest_for_workspace(store, "/ws") == newest
    assert newest_for_workspace(store, "/nowhere") is None
    text = info_cmd.text(saved_session(store, newest, measure=True))
    assert text.startswith("Session Information\n===================\n")
    assert f"Session ID:     {newest.session_id}" in text
    assert "Session Data:   ✗ Missing" in text
    assert f"Resume:         coi shell --resume={newest.session_id}" in text


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("SUDO_USER", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(argv))
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


def test_info_cli_by_id_json_and_errors(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = SessionStore(home / ".coi")
    record = stored(store, container(workspace=str(home)))
    code, out, _ = run(capsys, "info", record.session_id, "--json")
    data = json.loads(out)
    assert code == 0 and set(data) == SESSION_KEYS | {"state_bytes", "resume"}
    assert data["resume"] == f"coi shell --resume={record.session_id}"
    code, out, _ = run(capsys, "info")  # newest of the current directory
    assert code == 0 and record.session_id in out
    code, _, err = run(capsys, "info", "-w", "/nowhere")
    assert code == 5 and "no sessions found for this workspace" in err and "coi list --all" in err
    code, _, err = run(capsys, "info", "no-such-session")
    assert code == 5 and "not found" in err


def test_list_flags_are_checked_before_anything_else(
        home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "list", "--running", "--stopped")
    assert code == 2 and "exclude each other" in err
