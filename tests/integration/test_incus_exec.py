"""Exec over websockets against a real container: exit codes, streams, identity, PTY."""

from __future__ import annotations

import hashlib
import io
import os
import signal
import threading
import time
from collections.abc import Callable

import pytest

from coi.errors import CoiTimeout, IncusError, IncusNotFound
from coi.incus import exec as incus_exec
from coi.incus.client import Client
from coi.incus.exec import run


@pytest.mark.parametrize("code", [0, 7])
def test_exit_code_is_passed_through(incus: Client, shared_container: str, code: int) -> None:
    result = run(incus, shared_container, ["sh", "-c", f"exit {code}"])
    assert result.exit_code == code
    assert result.error == ""


def test_command_not_found_is_127_with_a_reason(incus: Client, shared_container: str) -> None:
    result = run(incus, shared_container, ["coi-no-such-command"])
    assert (result.exit_code, result.error) == (127, "Command not found")


def test_not_executable_is_126(incus: Client, shared_container: str) -> None:
    result = run(incus, shared_container, ["/etc/passwd"])
    assert (result.exit_code, result.error) == (126, "Command not executable")


def test_daemon_reads_any_127_as_not_found(incus: Client, shared_container: str) -> None:
    """Incus names the reason from the exit status alone, so a command's own `exit 127`
    reads the same as a missing binary: callers must not trust `error` further."""
    result = run(incus, shared_container, ["sh", "-c", "echo ran; exit 127"])
    assert (result.stdout, result.exit_code, result.error) == (b"ran\n", 127, "Command not found")


def test_stdout_and_stderr_stay_apart(incus: Client, shared_container: str) -> None:
    result = run(incus, shared_container, ["sh", "-c", "echo out; echo err >&2; echo out2"])
    assert result.stdout == b"out\nout2\n"
    assert result.stderr == b"err\n"


def test_stdin_reaches_the_command(incus: Client, shared_container: str) -> None:
    data = os.urandom(300_000)  # more than one pipe buffer, binary
    result = run(incus, shared_container, ["sha256sum"], stdin=data)
    assert result.stdout.split()[0].decode() == hashlib.sha256(data).hexdigest()


def test_without_stdin_the_command_reads_eof(incus: Client, shared_container: str) -> None:
    assert run(incus, shared_container, ["cat"], timeout=10).stdout == b""


def test_large_output(incus: Client, shared_container: str) -> None:
    result = run(incus, shared_container, ["head", "-c", "5000000", "/dev/zero"])
    assert len(result.stdout) == 5_000_000


def test_env_user_group_and_cwd(incus: Client, shared_container: str) -> None:
    result = run(incus, shared_container, ["sh", "-c", 'id -u; id -g; pwd; echo "$COI_X"'],
                 env={"COI_X": "hello world"}, user=1000, group=1001, cwd="/tmp")
    assert result.stdout.decode().split("\n") == ["1000", "1001", "/tmp", "hello world", ""]


def test_pty_sees_window_resize(incus: Client, shared_container: str) -> None:
    output = bytearray()
    seen_first = threading.Event()

    def collect(data: bytes) -> None:
        output.extend(data)
        if b"24 80" in output:
            seen_first.set()

    script = "stty size; read line; stty size"
    with incus_exec.start(incus, shared_container, ["sh", "-c", script], interactive=True,
                          width=80, height=24, on_stdout=collect) as session:
        assert seen_first.wait(10), bytes(output)
        session.resize(132, 40)
        session.write(b"go\n")
        code = session.wait(timeout=10)
    assert code == 0
    assert b"40 132" in output.split(b"24 80", 1)[1]


def test_signal_is_forwarded(incus: Client, shared_container: str) -> None:
    ready = threading.Event()
    with incus_exec.start(incus, shared_container,
                          ["sh", "-c", "trap 'echo got-term; exit 3' TERM; echo ready; "
                           "while :; do sleep 0.1; done"],
                          control=True, on_stdout=lambda d: ready.set()) as session:
        assert ready.wait(10)
        session.signal(signal.SIGTERM)
        assert session.wait(timeout=10) == 3


def test_feed_streams_a_file_to_stdin(incus: Client, shared_container: str) -> None:
    out = bytearray()
    read_fd, write_fd = os.pipe()
    os.write(write_fd, b"line one\nline two\n")
    os.close(write_fd)
    with incus_exec.start(incus, shared_container, ["wc", "-l"], on_stdout=out.extend) as s:
        incus_exec.feed(s, read_fd)
        assert s.wait(timeout=10) == 0
    os.close(read_fd)
    assert out.strip() == b"2"


def test_stream_writer_sink(incus: Client, shared_container: str) -> None:
    sink = io.BytesIO()
    with incus_exec.start(incus, shared_container, ["echo", "hi"],
                          on_stdout=incus_exec.stream_writer(sink)) as session:
        session.close_stdin()
        assert session.wait(timeout=10) == 0
    assert sink.getvalue() == b"hi\n"


def test_timeout_kills_the_command(incus: Client, shared_container: str) -> None:
    started = time.monotonic()
    with pytest.raises(CoiTimeout):
        run(incus, shared_container, ["sleep", "30"], timeout=0.5)
    assert time.monotonic() - started < 5
    deadline = time.monotonic() + 5
    while run(incus, shared_container, ["pgrep", "-x", "sleep"]).exit_code == 0:
        assert time.monotonic() < deadline, "the timed-out command is still running"
        time.sleep(0.1)


def test_exec_in_missing_instance(incus: Client) -> None:
    with pytest.raises(IncusNotFound):
        run(incus, "coi-test-does-not-exist", ["true"])


def test_exec_in_stopped_instance_is_refused(incus: Client, base_image: str,
                                             new_name: Callable[[], str]) -> None:
    name = new_name()
    incus.sync("POST", "/instances", {"name": name, "source": {"type": "image",
                                                               "alias": base_image}})
    with pytest.raises(IncusError, match="not running"):
        run(incus, name, ["true"])


def test_failing_sink_is_reported_and_the_command_ends(
    incus: Client, shared_container: str
) -> None:
    def broken(data: bytes) -> None:
        raise BrokenPipeError("reader went away")

    with incus_exec.start(incus, shared_container, ["yes"], on_stdout=broken) as session:
        session.close_stdin()
        with pytest.raises(BrokenPipeError):
            session.wait(timeout=10)
    assert not session.write(b"late input")  # the session is closed: no error, just False
