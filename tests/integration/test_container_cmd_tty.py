"""`coi container exec -t` on a real terminal (pexpect): a PTY with the terminal's size,
resized on SIGWINCH, keys passed raw, and the local terminal restored afterwards."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pexpect
import pytest

from coi.incus.client import Client
from tests.integration.test_container_cmd_support import container

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def box(incus: Client) -> Iterator[str]:
    with container(incus) as name:
        yield name


def spawn(*args: str, rows: int = 33, cols: int = 111) -> pexpect.spawn:
    return pexpect.spawn(sys.executable, ["-m", "coi", *args], dimensions=(rows, cols),
                         timeout=20)


def test_tty_has_the_terminal_size_and_follows_resizes(box: str) -> None:
    child = spawn("container", "exec", box, "-t", "--", "sh", "-c",
                  "tty; stty size; read line; stty size; echo got:$line; exit 4")
    child.expect(r"/dev/pts/\d+")
    child.expect("33 111")
    child.setwinsize(40, 132)
    child.sendline("hello")
    child.expect("40 132")
    child.expect("got:hello")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 4


def test_ctrl_c_reaches_the_command(box: str) -> None:
    child = spawn("container", "exec", box, "-t", "--", "sh", "-c",
                  "trap 'echo caught; exit 9' INT; echo ready; while :; do sleep 0.1; done")
    child.expect("ready")
    child.sendcontrol("c")
    child.expect("caught")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 9


def test_the_local_terminal_is_restored(box: str) -> None:
    """Raw mode is undone on exit: a shell run afterwards sees icanon and echo again."""
    script = (f"{sys.executable} -m coi container exec {box} -t -- true; "
              "echo rc=$?; stty -a | tr ' ' '\\n' | grep -x -e '-\\?icanon' -e '-\\?echo'")
    child = pexpect.spawn("bash", ["-c", script], timeout=20)
    child.expect(pexpect.EOF)
    out = child.before.decode()
    assert "rc=0" in out
    assert out.split("rc=0", 1)[1].split() == ["icanon", "echo"]


def test_without_a_local_terminal_the_command_still_gets_a_pty(box: str) -> None:
    from tests.integration.test_container_cmd_support import coi

    result = coi("container", "exec", box, "-t", "--", "sh", "-c", "tty; stty size")
    assert result.returncode == 0
    lines = result.stdout.replace("\r", "").splitlines()
    assert lines[0].startswith("/dev/pts/") and lines[1] == "24 80"
