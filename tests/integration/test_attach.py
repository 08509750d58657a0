"""`coi attach` through a real terminal: auto-pick, by name, --bash, and no sessions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

from coi.incus.client import Client
from tests.integration.session_support import COI, Sandbox, sandbox

pytestmark = pytest.mark.slow


@pytest.fixture
def box(incus: Client, test_image: str, tmp_path: Path) -> Iterator[Sandbox]:
    with sandbox(incus, test_image, tmp_path, owner=1000) as made:
        yield made


def attach(box: Sandbox, *args: str) -> pexpect.spawn:
    return pexpect.spawn(COI, ["attach", *args], cwd=str(box.workspace), env=box.env(),
                         dimensions=(40, 140), encoding="utf-8", timeout=60)


def start(box: Sandbox) -> str:
    result = box.coi("shell", "--tool", "dummy", "--background")
    assert result.returncode == 0, result.stderr
    name = result.stdout.decode().rsplit("coi attach ", 1)[1].strip()
    box.wait_screen(name, "Tip:")
    return name


def test_no_sessions_says_so(box: Sandbox) -> None:
    result = box.coi("attach")
    assert result.returncode != 0
    assert b"No active sessions" in result.stderr
    assert b"coi shell" in result.stderr


def test_attach_to_the_only_session_then_detach_and_end_it(box: Sandbox) -> None:
    name = start(box)
    child = attach(box)
    found = child.expect([f"Attaching to {name}", pexpect.EOF])
    assert found == 0, f"coi attach ended: {child.before!r}"
    child.sendline("are you there")
    child.expect("Dummy: you said: are you there")
    child.sendcontrol("b")
    child.send("d")
    child.expect(f"Return with: coi attach {name}")
    child.expect(pexpect.EOF)

    child = attach(box, name)
    child.sendline("exit")
    child.expect("Goodbye.")
    child.expect(r"\$ ")
    child.sendline("exit")
    child.expect(r"Resume with: coi shell --resume=")
    child.expect(pexpect.EOF)
    assert box.status(name) == "Gone"
    assert box.only_session().ended


def test_several_sessions_are_listed_and_bash_opens_a_shell(box: Sandbox) -> None:
    first = start(box)
    other = box.workspace.parent / "other"
    other.mkdir()
    result = box.coi("shell", "--tool", "dummy", "--background", "-w", str(other))
    assert result.returncode == 0, result.stderr
    second = result.stdout.decode().rsplit("coi attach ", 1)[1].strip()

    listing = box.coi("attach", "-w", str(box.workspace.parent))  # neither workspace's
    assert listing.returncode == 1
    assert first.encode() in listing.stdout and second.encode() in listing.stdout
    assert b"Use: coi attach <container-name>" in listing.stdout

    child = attach(box, "--bash", second)
    child.expect(r"\$ ")
    child.sendline("echo in-$(hostname)")
    child.expect(f"in-{second}")
    child.sendline("exit")
    child.expect(pexpect.EOF)
    assert box.status(second) == "Running", "--bash leaves the session alone"
