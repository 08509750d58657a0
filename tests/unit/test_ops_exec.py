"""`coi container exec` pieces that need no daemon: flags, JSON shape, exit statuses."""

from __future__ import annotations

import io
import json
import os

import pytest

from coi.cli.errors import run_guarded
from coi.cli.main import cli
from coi.errors import CoiError, IncusUnreachable, NotFound, UsageError
from coi.incus.exec import ExecResult
from coi.incus.instances import Instance
from coi.ops import execute
from coi.ops.execute import ExecFailed, Prepared


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = run_guarded(cli, ["container", "exec", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(("argv", "message"), [
    (["box", "--format", "json", "--", "true"], "--format needs --capture"),
    (["box", "--capture", "-t", "--", "true"], "--capture and -t"),
    (["box", "-e", "NOVALUE", "--", "true"], "KEY=VALUE"),
    (["box", "--capture", "--format", "yaml", "--", "true"], "yaml"),
])
def test_bad_flags_are_usage_errors(capsys: pytest.CaptureFixture[str], argv: list[str],
                                    message: str) -> None:
    code, out, err = run(capsys, *argv)
    assert (code, out) == (2, "")
    assert message in err


def test_coi_failures_become_125_and_keep_their_message() -> None:
    for error in (NotFound("no container named x", hint="h"), IncusUnreachable("down"),
                  CoiError("other")):
        with pytest.raises(ExecFailed) as caught, execute.docker_exit_codes():
            raise error
        assert caught.value.exit_code == 125
        assert (caught.value.message, caught.value.hint) == (error.message, error.hint)


def test_usage_errors_stay_2() -> None:
    with pytest.raises(UsageError), execute.docker_exit_codes():
        raise UsageError("bad")


def test_parse_env_keeps_equals_signs_in_values() -> None:
    assert execute.parse_env(["A=1", "B=x=y", "C="]) == {"A": "1", "B": "x=y", "C": ""}
    with pytest.raises(UsageError):
        execute.parse_env(["=v"])


def test_captured_json_shape_and_decoding() -> None:
    data = execute.captured_json(ExecResult("hé".encode() + b"\xff", b"e\n", 3))
    assert data == {"stdout": "hé\ufffd", "stderr": "e\n", "exit_code": 3}
    assert list(json.loads(json.dumps(data))) == ["stdout", "stderr", "exit_code"]


JOB = Prepared("box", ("nosuch", "arg"), None, None, {}, None)


def test_silent_failure_explains_127_and_126_without_output() -> None:
    note = execute.silent_failure(JOB, ExecResult(b"", b"", 127, "Command not found"))
    assert note is not None and note.startswith("nosuch: exit status 127")
    assert "not found in box" in note
    assert "not executable" in str(execute.silent_failure(
        JOB, ExecResult(b"", b"", 126, "Command not executable")))


def test_silent_failure_stays_quiet_otherwise() -> None:
    assert execute.silent_failure(JOB, ExecResult(b"", b"sh: nosuch: not found", 127,
                                                  "Command not found")) is None
    assert execute.silent_failure(JOB, ExecResult(b"", b"", 1)) is None


@pytest.mark.parametrize(("term", "expected"), [
    ("screen-256color", "screen-256color"), ("", "xterm-256color"),
    ("dumb", "xterm-256color"), ("x;rm -rf /", "xterm-256color")])
def test_terminal_env(term: str, expected: str) -> None:
    assert execute.terminal_env({"TERM": term}) == {"TERM": expected}


def test_default_cwd_is_the_workspace_of_a_session_container() -> None:
    session = Instance.from_api({"name": "b", "expanded_devices": {
        "ws": {"type": "disk", "path": "/workspace", "source": "/p"}}})
    plain = Instance.from_api({"name": "b"})
    assert execute.default_cwd(session, "/home/code") == "/workspace"
    assert execute.default_cwd(plain, "/home/code") == "/home/code"
    assert execute.default_cwd(plain, None) is None


def test_only_piped_input_is_forwarded() -> None:
    read_fd, write_fd = os.pipe()
    with os.fdopen(read_fd, "rb") as pipe:
        assert execute.input_fd(pipe) == read_fd
    os.close(write_fd)
    assert execute.input_fd(None) is None
    assert execute.input_fd(io.BytesIO(b"no descriptor")) is None
