"""The issue's end-to-end check: a real `coi shell --background` session whose coi
processes are all killed with SIGKILL is found by `coi clean --force`, which removes the
container; the session's data (from its last periodic save) stays, listed by
`coi list --all`."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from coi.incus.client import Client
from coi.session import runlock
from tests.integration.test_lifecycle_helpers import Sandbox, sandbox

pytestmark = pytest.mark.slow
WORDS = "remember the marmalade"


@pytest.fixture
def box(incus: Client, test_image: str, tmp_path: Path) -> Iterator[Sandbox]:
    with sandbox(incus, test_image, tmp_path) as made:
        yield made


def wait_for(what: str, check: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.25)


def alive(pid: int) -> bool:
    """Running, not a zombie (this host's init may be slow to reap orphans)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def coi_processes_of(container: str) -> list[int]:
    """Every process whose command line names the container (the shell, the supervisor)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if container.encode() in argv and any(b"coi" in a for a in argv[:3]):
                found.append(int(entry.name))
    return found


def test_clean_after_kill_9_keeps_the_last_periodic_save(box: Sandbox) -> None:
    box.extra_env["COI_SAVE_INTERVAL_SECONDS"] = "1"
    box.coi("shell", "--background", "--tool", "dummy", "--network", "open",
            "--image", box.image, check=True)
    [listed] = box.coi_json("list")["active_containers"]
    name, session_id = listed["name"], listed["session_id"]
    box.created.append(name)  # removed at the end whatever happens
    history = box.store.state_dir("dummy", session_id) / "history.jsonl"

    wait_for("the dummy prompt", lambda: "> " in box.coi("tmux", "capture", name).stdout)
    box.coi("tmux", "send", name, WORDS, check=True)
    wait_for("a periodic save with the prompt in it",
             lambda: history.exists() and WORDS in history.read_text())

    run_state = json.loads((box.home / ".coi" / "run" / f"{name}.json").read_text())
    victims = {run_state["pid"], *coi_processes_of(name)}
    for pid in victims:
        os.kill(pid, signal.SIGKILL)
    wait_for("the supervisor's lock to be free",
             lambda: not runlock.is_supervised(box.home / ".coi", name), timeout=10)
    assert box.status(name) == "Running"  # orphaned: nothing looks after it now

    result = box.coi("clean", "--force", check=True)
    assert f"{name}: session saved, container deleted" in result.stdout
    assert not box.exists(name)
    after = box.coi_json("list", "--all")
    assert after["active_containers"] == []
    [saved] = after["saved_sessions"]
    assert (saved["session_id"], saved["state_present"], saved["end_reason"]) == (
        session_id, True, "orphaned")
    assert WORDS in history.read_text()
    assert not (box.home / ".coi" / "run" / f"{name}.json").exists()


def start_shell(box: Sandbox) -> tuple[str, str]:
    box.coi("shell", "--background", "--tool", "dummy", "--network", "open",
            "--image", box.image, check=True)
    [listed] = box.coi_json("list")["active_containers"]
    box.created.append(listed["name"])
    wait_for("the dummy prompt",
             lambda: "> " in box.coi("tmux", "capture", listed["name"]).stdout)
    return listed["name"], listed["session_id"]


@pytest.mark.parametrize(("command", "reason"), [("shutdown", "shutdown"), ("kill", "killed")])
def test_ending_a_live_session_dismisses_its_supervisor_first(
        box: Sandbox, command: str, reason: str) -> None:
    name, session_id = start_shell(box)
    box.coi("tmux", "send", name, WORDS, check=True)
    wait_for("the answer", lambda: f"you said: {WORDS}" in box.coi("tmux", "capture",
                                                                    name).stdout)
    supervisor = json.loads((box.home / ".coi" / "run" / f"{name}.json").read_text())["pid"]

    result = box.coi(command, name, check=True)
    assert f"{name}: session saved, container deleted" in result.stdout
    assert not box.exists(name)
    assert not alive(supervisor)
    assert not (box.home / ".coi" / "run" / f"{name}.json").exists()
    history = box.store.state_dir("dummy", session_id) / "history.jsonl"
    assert WORDS in history.read_text()
    assert box.store.load("dummy", session_id).end_reason == reason
