"""`coi list`, `shutdown`, `kill` and `persist` against the real daemon, with session-like
containers made directly (so these tests do not depend on `coi shell`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from coi.incus import instances
from coi.incus.client import Client
from tests.integration.test_lifecycle_helpers import Sandbox, sandbox

pytestmark = pytest.mark.slow


@pytest.fixture
def box(incus: Client, test_image: str, tmp_path: Path) -> Iterator[Sandbox]:
    with sandbox(incus, test_image, tmp_path) as made:
        yield made


def test_list_shows_session_containers_and_saved_sessions(box: Sandbox) -> None:
    running = box.session(1)
    stopped = box.session(2, persistent=True, running=False)
    text = box.coi("list", check=True).stdout
    assert text.startswith("Active Containers:\n")
    assert f"  {running.container} (ephemeral)\n    Status: Running" in text
    assert f"  {stopped.container} (persistent)\n    Status: Stopped" in text
    assert f"Workspace: {box.workspace}" in text and "Saved Sessions:" not in text

    data = box.coi_json("list", "--all")
    by_name = {c["name"]: c for c in data["active_containers"]}
    assert set(by_name) == {running.container, stopped.container}
    assert by_name[running.container]["session_id"] == running.session_id
    assert by_name[running.container]["tool"] == "dummy"
    stopped_json = by_name[stopped.container]
    assert (stopped_json["ipv4"], stopped_json["persistent"], stopped_json["slot"]) == (
        [], True, 2)
    assert {s["session_id"] for s in data["saved_sessions"]} == {
        running.session_id, stopped.session_id}

    only_running = box.coi_json("list", "--running")["active_containers"]
    assert [c["name"] for c in only_running] == [running.container]


def test_shutdown_saves_then_deletes_an_ephemeral_container(box: Sandbox) -> None:
    record = box.session(marker="said hello")
    result = box.coi("shutdown", record.container, "--timeout", "30", check=True)
    assert f"{record.container}: session saved, container deleted" in result.stdout
    assert not box.exists(record.container)
    assert box.saved_marker(record) == "said hello"
    ended = box.record(record)
    assert ended.end_reason == "shutdown" and ended.has_state


def test_shutdown_keeps_a_persistent_container_stopped(box: Sandbox) -> None:
    record = box.session(persistent=True, marker="keep me")
    data = box.coi_json("shutdown", record.container)
    assert data["results"][0]["action"] == "stopped"
    assert box.status(record.container) == "Stopped"
    assert box.saved_marker(record) == "keep me"


def test_kill_saves_from_the_stopped_container(box: Sandbox) -> None:
    record = box.session(marker="last words")
    box.coi("kill", record.container, check=True)
    assert not box.exists(record.container)
    assert box.saved_marker(record) == "last words"
    assert box.record(record).end_reason == "killed"


def test_persist_marks_container_and_record(box: Sandbox) -> None:
    record = box.session()
    box.coi("persist", record.container, check=True)
    config = instances.get(box.client, record.container).config
    assert config["user.coi.persistent"] == "true"
    assert box.record(record).persistent
    listed = box.coi_json("list")["active_containers"]
    assert listed[0]["persistent"] is True


def test_names_are_checked(box: Sandbox) -> None:
    missing = box.coi("shutdown", f"{box.prefix}00000000-1")
    assert missing.returncode == 5 and "no coi session container named" in missing.stderr
    nothing = box.coi("kill")
    assert nothing.returncode == 2 and "coi list" in nothing.stderr
    empty = box.coi("shutdown", "--all", "--force")
    assert empty.returncode == 0 and "No session containers." in empty.stdout
