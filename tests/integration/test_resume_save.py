"""`save_state` against real containers, running (tar stream) and stopped (file API):
what is saved, what never is (credentials, things outside the state dir), and that a
saved state restores into a new container."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from coi.errors import IncusError, NotFound
from coi.incus import exec as incus_exec
from coi.incus import instances
from coi.incus.client import Client
from coi.session.record import SessionRecord, new_session_id, now_iso
from coi.session.restore import restore_state
from coi.session.save import save_state
from coi.session.store import SessionStore

STATE = """
mkdir -p ~/.claude/projects/-workspace ~/.claude/debug
echo '{"type":"user"}' > ~/.claude/projects/-workspace/s1.jsonl
echo secret > ~/.claude/.credentials.json
echo log > ~/.claude/debug/one.txt
ln -s /home/code/.claude/debug/one.txt ~/.claude/debug/latest
ln -s /etc ~/.claude/etc-link
ln -s ../../../../etc/passwd ~/.claude/up-link
"""


@pytest.fixture
def container(incus: Client, test_image: str) -> Iterator[str]:
    name = f"coi-t{uuid.uuid4().hex[:8]}-save"
    instances.create(incus, name, image=test_image, start=True,
                     config={"raw.idmap": "both 0 1000"})
    try:
        result = incus_exec.run(incus, name, ["sh", "-c", STATE], user=1000, group=1000,
                                env={"HOME": "/home/code"})
        assert result.exit_code == 0, result.stderr
        yield name
    finally:
        with contextlib.suppress(IncusError):
            instances.delete(incus, name, force=True, missing_ok=True)


def record_for(name: str) -> SessionRecord:
    return SessionRecord(session_id=new_session_id(), tool="claude", workspace="/w",
                         container=name, slot=1, persistent=False, image="coi-test",
                         created_at=now_iso())


def check_saved(store: SessionStore, saved: SessionRecord, tmp_path: Path) -> Path:
    assert saved.has_state and saved.saved_at
    assert store.load("claude", saved.session_id) == saved
    state = store.state_dir("claude", saved.session_id)
    assert (state / "projects/-workspace/s1.jsonl").read_text() == '{"type":"user"}\n'
    assert not (state / ".credentials.json").exists(), "credentials are never saved"
    for link in ("etc-link", "up-link"):
        assert not os.path.lexists(state / link), "no link out of the state is kept"
    assert not any(p.name == "passwd" for p in tmp_path.rglob("*")), "nothing was followed"
    return state


@pytest.mark.parametrize("stopped", [False, True], ids=["running", "stopped"])
def test_save_from_running_and_stopped_containers(incus: Client, container: str,
                                                  tmp_path: Path, stopped: bool) -> None:
    store = SessionStore(tmp_path / ".coi")
    if stopped:
        instances.stop(incus, container, force=True)
    saved = save_state(incus, store, record_for(container), host_home=tmp_path)
    state = check_saved(store, saved, tmp_path)
    latest = state / "debug" / "latest"
    assert os.readlink(latest) == "one.txt" and latest.read_text() == "log\n"
    kept = tmp_path / ".coi/credentials/claude/.claude/.credentials.json"
    assert kept.read_text() == "secret\n", "a login made inside is kept, apart"


def test_no_state_dir_means_nothing_saved(incus: Client, container: str,
                                         tmp_path: Path) -> None:
    incus_exec.run(incus, container, ["rm", "-rf", "/home/code/.claude"])
    store = SessionStore(tmp_path / ".coi")
    record = record_for(container)
    assert save_state(incus, store, record, host_home=tmp_path) == record
    assert not store.state_dir("claude", record.session_id).exists()


def test_a_missing_container_is_not_found(incus: Client, tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        save_state(incus, SessionStore(tmp_path), record_for("coi-tnope-gone-1"))


def test_saved_state_restores_owned_by_code(incus: Client, container: str,
                                           tmp_path: Path, test_image: str) -> None:
    store = SessionStore(tmp_path / ".coi")
    saved = save_state(incus, store, record_for(container), host_home=tmp_path)
    instances.delete(incus, container, force=True)
    instances.create(incus, container, image=test_image, start=True,
                     config={"raw.idmap": "both 0 1000"})
    restore_state(incus, container, store.state_dir("claude", saved.session_id),
                  target="/home/code/.claude", uid=1000, home="/home/code")
    result = incus_exec.run(incus, container, [
        "sh", "-c", "stat -c '%u %n' ~/.claude/projects/-workspace/s1.jsonl; "
                    "test -e ~/.claude/.credentials.json || echo no-credentials"],
        user=1000, group=1000, env={"HOME": "/home/code"})
    assert result.stdout.decode().split() == [
        "1000", "/home/code/.claude/projects/-workspace/s1.jsonl", "no-credentials"]
