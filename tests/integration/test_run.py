"""`coi run`: exit codes, separate streams, stdin, the image hint, concurrency, clean-up."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from coi.incus.client import Client
from tests.integration.session_support import COI, Sandbox, host_owner, sandbox, wait_until


@pytest.fixture
def box(incus: Client, test_image: str, tmp_path: Path) -> Iterator[Sandbox]:
    with sandbox(incus, test_image, tmp_path, owner=1000) as made:
        yield made


def gone(box: Sandbox) -> None:
    """coi run does not wait for the daemon's delete; it follows within seconds."""
    wait_until(lambda: box.ours() == [], 20, "the run's container to be deleted")


def test_exit_status_and_streams(box: Sandbox) -> None:
    # The pause: Incus 6.0 drops stderr written in the very instant before an exit about
    # once in a hundred runs (its CLI too); see docs/sessions.md.
    result = box.coi("run", "--", "sh", "-c", "echo out; echo err >&2; sleep 0.1; exit 7")
    assert result.returncode == 7
    assert result.stdout == b"out\n"
    assert result.stderr == b"err\n"
    gone(box)


def test_stdin_is_piped_through(box: Sandbox) -> None:
    result = box.coi("run", "--", "sh", "-c", "tr a-z A-Z", input=b"piped text\n")
    assert (result.returncode, result.stdout) == (0, b"PIPED TEXT\n")


def test_runs_as_code_in_the_workspace_with_files_owned_by_its_owner(box: Sandbox) -> None:
    script = "id -u; pwd; echo $HOME; touch mine; sudo touch roots"
    result = box.coi("run", "--", "sh", "-c", script)
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().split() == ["1000", "/workspace", "/home/code"]
    assert host_owner(box.workspace / "mine") == (1000, 1000)
    assert host_owner(box.workspace / "roots") == (1000, 1000), "handed back at the end"


def test_command_not_found_and_not_executable(box: Sandbox) -> None:
    assert box.coi("run", "--", "coi-no-such-command").returncode == 127
    (box.workspace / "script.sh").write_text("#!/bin/sh\necho hi\n")
    assert box.coi("run", "--", "./script.sh").returncode == 126


def test_coi_failures_are_125_and_a_missing_image_says_build(box: Sandbox) -> None:
    result = box.coi("run", "--image", "coi-no-such-image", "--", "true")
    assert result.returncode == 125
    assert b"image 'coi-no-such-image' not found" in result.stderr
    assert b"coi build" in result.stderr


def test_usage_errors_stay_2(box: Sandbox) -> None:
    assert box.coi("run").returncode == 2
    assert box.coi("run", "--prompt", "x", "--", "true").returncode == 2


def test_ten_at_once_get_ten_slots(box: Sandbox) -> None:
    def one(_: int) -> subprocess.CompletedProcess[bytes]:
        # Long enough that all ten overlap: a finished run's slot may be taken again.
        return box.coi("run", "--", "sh", "-c", "hostname; sleep 15", timeout=180)

    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(one, range(10)))
    assert [r.returncode for r in results] == [0] * 10, [r.stderr for r in results]
    names = {r.stdout.decode().strip() for r in results}
    assert names == {box.name(slot) for slot in range(1, 11)}
    gone(box)


def test_ctrl_c_deletes_the_container(box: Sandbox) -> None:
    proc = subprocess.Popen([COI, "run", "--", "sleep", "300"], cwd=box.workspace,
                            env=box.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_until(lambda: box.ours() != [] and box.status(box.name()) == "Running", 30,
               "the container to run")
    time.sleep(0.5)  # into the exec
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 130
    gone(box)


def test_prompt_runs_the_tool_headless_and_saves_the_session(box: Sandbox) -> None:
    result = box.coi("run", "--tool", "dummy", "--prompt", "write note.txt from the prompt")
    assert result.returncode == 0, result.stderr
    assert b"Dummy: wrote note.txt" in result.stdout
    assert (box.workspace / "note.txt").read_text() == "from the prompt\n"
    record = box.only_session()
    assert record.has_state and record.ended
    assert b"coi shell --resume=" + record.session_id.encode() in result.stderr
    assert box.ours() == [], "deleted after the save"


def test_tty_gives_the_command_a_terminal(box: Sandbox) -> None:
    import pexpect

    child = pexpect.spawn(COI, ["run", "-t", "--", "sh", "-c", "tty; read x; exit 3"],
                          cwd=str(box.workspace), env=box.env(), encoding="utf-8", timeout=60)
    child.expect("/dev/pts/")
    child.sendline("done")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 3
    plain = box.coi("run", "--", "sh", "-c", "tty")
    assert plain.stdout == b"not a tty\n"
