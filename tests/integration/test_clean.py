"""`coi clean` against the real daemon: leftovers and orphans go (their sessions saved
first), persistent stopped containers stay unless --all, running supervised ones stay."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from coi.incus.client import Client
from coi.session import runlock
from tests.integration.test_lifecycle_helpers import Sandbox, sandbox

pytestmark = pytest.mark.slow


@pytest.fixture
def box(incus: Client, test_image: str, tmp_path: Path) -> Iterator[Sandbox]:
    with sandbox(incus, test_image, tmp_path) as made:
        yield made


def test_clean_removes_orphans_and_leftovers_after_saving(box: Sandbox) -> None:
    orphan = box.session(1, marker="orphan state")  # running, no coi process holds it
    leftover = box.session(2, running=False, marker="leftover state")
    kept = box.session(3, persistent=True, running=False)
    supervised = box.session(4)
    run_state = box.home / ".coi" / "run" / f"{orphan.container}.json"
    run_state.parent.mkdir(parents=True)
    run_state.write_text("{}")

    with runlock.held(box.home / ".coi", supervised.container):
        plan = box.coi_json("clean", "--dry-run")
        assert {c["name"]: c["action"] for c in plan["plan"]["containers"]} == {
            orphan.container: "remove", leftover.container: "remove",
            kept.container: "keep", supervised.container: "keep"}
        assert all(box.exists(r.container) for r in (orphan, leftover, kept, supervised))

        result = box.coi("clean", "--force", check=True)
    assert f"{orphan.container}: session saved, container deleted" in result.stdout
    assert not box.exists(orphan.container) and not box.exists(leftover.container)
    assert box.status(kept.container) == "Stopped"
    assert box.status(supervised.container) == "Running"
    assert box.saved_marker(orphan) == "orphan state"
    assert box.saved_marker(leftover) == "leftover state"
    assert box.record(orphan).end_reason == "orphaned"
    assert not run_state.exists()

    box.coi("clean", "--all", "--force", check=True)  # the supervisor is gone now too
    assert not box.exists(kept.container) and not box.exists(supervised.container)
    listed = box.coi_json("list", "--all")
    assert listed["active_containers"] == []
    assert len(listed["saved_sessions"]) == 4  # the sessions stay, for --resume


def test_clean_asks_and_will_not_ask_without_a_terminal(box: Sandbox) -> None:
    leftover = box.session(running=False)
    refused = box.coi("clean")
    assert refused.returncode == 2 and "--force" in refused.stderr
    assert box.exists(leftover.container)


def test_clean_sessions_deletes_saved_sessions_whose_container_is_gone(box: Sandbox) -> None:
    leftover = box.session(1, running=False, marker="x")
    kept = box.session(2, persistent=True, running=False)
    data = box.coi_json("clean", "--sessions", "--force")
    assert [s["session_id"] for s in data["plan"]["sessions"]] == [leftover.session_id]
    assert data["results"]["sessions_deleted"] == [leftover.session_id]
    assert [s.session_id for s in box.store.all()] == [kept.session_id]
