"""The supervisor and persistent sessions: background start, periodic save, the end of a
session however it comes (tmux ends, poweroff inside), container reuse."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from coi.incus.client import Client
from coi.session.runlock import is_supervised
from tests.integration.session_support import Sandbox, host_owner, sandbox, wait_until

pytestmark = pytest.mark.slow


@pytest.fixture
def box(incus: Client, test_image: str, tmp_path: Path) -> Iterator[Sandbox]:
    with sandbox(incus, test_image, tmp_path, owner=1234) as made:
        yield made


def background(box: Sandbox, *args: str, **env: str) -> str:
    result = box.coi("shell", "--tool", "dummy", "--background", *args, **env)
    assert result.returncode == 0, result.stderr
    assert b"Attach with: coi attach " in result.stdout
    return result.stdout.decode().rsplit("coi attach ", 1)[1].strip()


def test_background_session_is_supervised_saved_and_closed(box: Sandbox) -> None:
    name = background(box, COI_SAVE_INTERVAL_SECONDS="1")
    assert is_supervised(box.coi_home, name)
    run_state = json.loads((box.coi_home / "run" / f"{name}.json").read_text())
    assert run_state["container"] == name

    wait_until(lambda: box.only_session().saved_at is not None, 30, "a periodic save")
    first = box.only_session().saved_at
    wait_until(lambda: box.only_session().saved_at != first, 30, "a second periodic save")

    box.sh(name, "echo hi > from-code.txt && sudo touch from-root.txt")
    box.end_tmux(name)
    box.wait_closed(name)
    record = box.only_session()
    assert record.ended and record.end_reason == "exit" and record.has_state
    assert box.status(name) == "Gone"
    assert host_owner(box.workspace / "from-root.txt") == (1234, 1234)
    assert not (box.coi_home / "run" / f"{name}.lock").exists()


def test_poweroff_inside_ends_the_session(box: Sandbox) -> None:
    name = background(box)
    box.sh(name, "sudo touch made-before-poweroff")
    box.sh(name, "sudo poweroff", root=True)
    box.wait_closed(name, timeout=90)
    assert box.status(name) == "Gone"
    assert box.only_session().ended
    assert host_owner(box.workspace / "made-before-poweroff") == (1234, 1234)


def test_persistent_container_is_kept_and_reused(box: Sandbox) -> None:
    name = background(box, "--persistent")
    box.sh(name, "sudo touch /opt/marker")
    box.end_tmux(name)
    box.wait_closed(name, timeout=120)
    assert box.status(name) == "Stopped"
    assert box.only_session().persistent

    again = background(box, "--persistent")
    assert again == name, "the stopped persistent container is reused, not a new slot"
    assert box.sh(again, "test -e /opt/marker").exit_code == 0
    assert len(box.sessions()) == 2


def test_resume_of_a_persistent_session_restarts_its_container(box: Sandbox) -> None:
    name = background(box, "--persistent")
    box.wait_screen(name, "Tip:")  # the tool started, and made its state
    box.end_tmux(name)
    box.wait_closed(name, timeout=120)
    first = box.only_session()

    again = background(box, "--resume")
    assert again == name
    assert [r.session_id for r in box.sessions()] == [first.session_id]
    box.wait_screen(again, f"Resuming session: {first.session_id}")
