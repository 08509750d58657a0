"""`coi tmux` against a dummy-tool session run by the code user, as `coi shell` runs it."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from coi.incus.client import Client
from tests.integration.test_container_cmd_support import coi, container

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def dummy_session(incus: Client) -> Iterator[str]:
    """A running container whose code user runs `dummy` in tmux session coi-<name>."""
    with container(incus) as name:
        # Boot first: systemd mounts a fresh /tmp early on, which would hide a tmux
        # socket made before it.
        coi("container", "exec", name, "--", "systemctl", "is-system-running", "--wait")
        started = coi("container", "exec", name, "--user", "code", "--cwd", "/home/code",
                      "--", "tmux", "new-session", "-d", "-s", f"coi-{name}", "-x", "120",
                      "-y", "30", "dummy")
        assert started.returncode == 0, started.stderr
        wait_for(name, "> ")
        yield name


def wait_for(name: str, text: str, timeout: float = 15) -> str:
    deadline = time.monotonic() + timeout
    while True:
        screen = coi("tmux", "capture", name).stdout
        if text in screen or time.monotonic() > deadline:
            return screen
        time.sleep(0.2)


def test_send_then_capture_shows_the_answer(dummy_session: str) -> None:
    sent = coi("tmux", "send", dummy_session, "hello")
    assert (sent.returncode, sent.stdout, sent.stderr) == (0, "", "")
    assert "Dummy: you said: hello" in wait_for(dummy_session, "you said: hello")


def test_send_is_literal_and_no_enter_waits(dummy_session: str) -> None:
    text = "-l Enter C-c; semi"
    assert coi("tmux", "send", "--no-enter", dummy_session, "--", text).returncode == 0
    time.sleep(0.5)
    assert f"you said: {text}" not in coi("tmux", "capture", dummy_session).stdout
    assert coi("tmux", "send", dummy_session, "").returncode == 0
    assert f"Dummy: you said: {text}" in wait_for(dummy_session, "semi\n")


def test_capture_lines_gives_the_last_lines(dummy_session: str) -> None:
    coi("tmux", "send", dummy_session, "lines-check")
    wait_for(dummy_session, "you said: lines-check")
    last = coi("tmux", "capture", dummy_session, "--lines", "2").stdout
    assert last.splitlines() == ["Dummy: you said: lines-check", "> "]


def test_list_shows_the_session(dummy_session: str) -> None:
    rows = json.loads(coi("tmux", "list", "--json").stdout)
    mine = [r for r in rows if r["container"] == dummy_session]
    assert mine == [{"container": dummy_session, "session": f"coi-{dummy_session}",
                     "attached": False, "windows": 1}]
    assert f"coi-{dummy_session}" in coi("tmux", "list").stdout


def test_a_container_without_the_session(incus: Client) -> None:
    with container(incus) as name:
        sent = coi("tmux", "send", name, "hi")
        listed = json.loads(coi("tmux", "list", "--json").stdout)
    assert sent.returncode == 5
    assert f"no tmux session coi-{name}" in sent.stderr
    assert name not in [r["container"] for r in listed]


def test_a_stopped_or_missing_container(incus: Client) -> None:
    with container(incus, start=False) as name:
        stopped = coi("tmux", "capture", name)
    missing = coi("tmux", "capture", name)
    assert stopped.returncode == 1 and f"coi container start {name}" in stopped.stderr
    assert missing.returncode == 5 and "no container named" in missing.stderr
