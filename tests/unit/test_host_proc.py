"""The one subprocess wrapper: output captured, failures carry the step, tail and fix."""

from __future__ import annotations

import pytest

from coi.errors import SetupError
from coi.host.proc import run, tail


def test_success_returns_output_and_duration() -> None:
    done = run(["sh", "-c", "echo out; echo err >&2"], step="demo")
    assert done.returncode == 0
    assert done.output.split() == ["out", "err"]
    assert done.seconds >= 0


def test_failure_names_step_command_status_and_output_tail() -> None:
    script = "for i in $(seq 1 40); do echo line$i; done; exit 3"
    with pytest.raises(SetupError) as err:
        run(["sh", "-c", script], step="install packages", fix="try again")
    text = str(err.value)
    assert text.startswith("install packages: `sh -c")
    assert "exit status 3" in text
    assert "line40" in text and "line10\n" not in text
    assert err.value.hint == "try again"


def test_unchecked_failure_is_returned() -> None:
    assert run(["false"], step="demo", check=False).returncode == 1


def test_missing_program_is_a_setup_error() -> None:
    with pytest.raises(SetupError, match="`no-such-program-coi` is not installed"):
        run(["no-such-program-coi"], step="demo")


def test_timeout_is_a_setup_error() -> None:
    with pytest.raises(SetupError, match="did not finish"):
        run(["sleep", "5"], step="demo", timeout=0.2)


def test_environment_is_added_not_replaced() -> None:
    done = run(["sh", "-c", "echo $COI_X:${PATH:+path}"], step="demo", env={"COI_X": "1"})
    assert done.output.strip() == "1:path"


def test_tail_keeps_the_last_lines() -> None:
    assert tail("a\nb\nc\n", 2) == "b\nc"
