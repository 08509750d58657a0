"""`coi shell` through a real terminal (pexpect): the dummy tool in tmux in a container.

What a user sees and gets: the banner, answers, files on the host owned by the workspace
owner (uids 0, 1000 and 1234), files `sudo` made handed back at the end, set-uid refused
in a root-owned workspace only, the session saved, and `coi shell --resume` replaying it.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

from coi.incus.client import Client
from tests.integration.session_support import COI, Sandbox, host_owner, sandbox

pytestmark = pytest.mark.slow


def spawn(box: Sandbox, *args: str) -> pexpect.spawn:
    return pexpect.spawn(COI, ["shell", "--tool", "dummy", *args], cwd=str(box.workspace),
                         env=box.env(), dimensions=(40, 140), encoding="utf-8",
                         timeout=60)


def leave(child: pexpect.spawn) -> str:
    """exit the tool, then the shell it leaves; return the session ID coi prints."""
    child.sendline("exit")
    child.expect("Goodbye.")
    child.expect(r"\$ ")  # the bash the tool drops the user into
    child.sendline("exit")
    child.expect(r"Resume with: coi shell --resume=([0-9a-f-]{36})")
    session_id = str(child.match.group(1))
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    return session_id


@pytest.fixture(params=[0, 1000, 1234], ids=["root-owned", "uid1000", "uid1234"])
def box(request: pytest.FixtureRequest, incus: Client, test_image: str,
        tmp_path: Path) -> Iterator[Sandbox]:
    with sandbox(incus, test_image, tmp_path, owner=request.param) as made:
        yield made


def test_session_through_a_terminal(box: Sandbox) -> None:
    child = spawn(box)
    child.expect("Dummy AI 1.0.0")
    child.expect("> ")
    child.sendline("hello coi")
    child.expect("Dummy: you said: hello coi")
    child.sendline("write hello.txt hi")
    child.expect("Dummy: wrote hello.txt")

    child.sendline("run sudo touch made-by-sudo.txt")
    child.expect("Dummy: exit code 0")
    made = box.workspace / "made-by-sudo.txt"
    assert host_owner(made)[0] not in (0, box.owner), "sudo's file must not be host root's"

    child.sendline("run chmod u+s hello.txt")
    child.expect(r"Dummy: exit code (\d+)")
    chmod_code = int(child.match.group(1))
    session_id = leave(child)

    hello = box.workspace / "hello.txt"
    assert hello.read_text() == "hi\n"
    assert host_owner(hello) == (box.owner, box.owner)
    assert host_owner(made) == (box.owner, box.owner), "handed back when the session ended"
    setuid = bool(os.lstat(hello).st_mode & stat.S_ISUID)
    if box.owner == 0:
        assert chmod_code != 0 and not setuid, "no set-uid bits in a root-owned workspace"
    else:
        assert chmod_code == 0 and setuid  # set-uid the owner, who could do that anyway

    record = box.only_session()
    assert record.session_id == session_id
    assert record.ended and record.end_reason == "exit" and record.has_state
    state = box.store.state_dir("dummy", session_id)
    assert (state / "projects" / "-workspace" / f"{session_id}.jsonl").is_file()
    assert box.ours() == [], "the ephemeral container is gone"


@pytest.fixture
def user_box(incus: Client, test_image: str, tmp_path: Path) -> Iterator[Sandbox]:
    with sandbox(incus, test_image, tmp_path, owner=1000) as made:
        yield made


def test_resume_replays_the_conversation(user_box: Sandbox) -> None:
    child = spawn(user_box)
    child.expect("> ")
    child.sendline("remember the walrus")
    child.expect("Dummy: you said: remember the walrus")
    first = leave(child)

    child = spawn(user_box, "--resume")
    child.expect(f"Resuming session: {first}")
    child.expect("You: remember the walrus")
    child.expect("> ")
    child.sendline("history")
    child.expect(r"history of session .* \(\d+ messages\)")
    again = leave(child)
    assert again == first, "a resumed session keeps its ID"
    assert len(user_box.sessions()) == 1


def test_detach_leaves_the_session_running(user_box: Sandbox) -> None:
    child = spawn(user_box)
    child.expect("> ")
    child.sendcontrol("b")
    child.send("d")
    child.expect(r"Return with: coi attach (\S+)")
    name = str(child.match.group(1))
    child.expect(pexpect.EOF)
    assert user_box.status(name) == "Running"
    user_box.end_tmux(name)
    user_box.wait_closed(name)
    assert user_box.status(name) == "Gone"


def test_killed_coi_shell_leaves_the_supervisor_in_charge(user_box: Sandbox) -> None:
    child = spawn(user_box)
    child.expect("> ")
    child.kill(9)  # coi shell dies; the terminal's incus exec may go too
    child.close(force=True)
    name = user_box.name()
    assert user_box.status(name) == "Running"
    user_box.end_tmux(name)
    user_box.wait_closed(name)
    record = user_box.only_session()
    assert record.ended and record.has_state
    assert user_box.status(name) == "Gone"


def test_missing_image_says_to_build(user_box: Sandbox) -> None:
    result = user_box.coi("shell", "--image", "coi-no-such-image", "--background")
    assert result.returncode == 5
    assert re.search(rb"image 'coi-no-such-image' not found.*coi build", result.stderr)
    assert user_box.ours() == []


def test_open_network_mode_still_starts(user_box: Sandbox) -> None:
    result = user_box.coi("shell", "--network", "open", "--background")
    assert result.returncode == 0, result.stderr
    assert user_box.status(user_box.name()) == "Running"
