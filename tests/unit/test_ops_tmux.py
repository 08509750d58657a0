"""tmux targets, errors and session listing for `coi tmux`."""

from __future__ import annotations

import pytest

from coi.errors import CoiError, NotFound
from coi.incus.exec import ExecResult
from coi.ops.tmux import TmuxSession, _check, _parse_sessions, pane, session_name


def test_targets_are_exact() -> None:
    assert session_name("coi-abc-1") == "coi-coi-abc-1"
    assert pane("coi-abc-1") == "=coi-coi-abc-1:"


def test_list_sessions_output_is_filtered_to_the_coi_session() -> None:
    text = "coi-box\t1\t2\nother\t0\t1\ncoi-box-2\t0\t1\n"
    assert _parse_sessions("box", text) == [TmuxSession("box", "coi-box", True, 2)]
    assert _parse_sessions("box", "") == []
    assert TmuxSession("box", "coi-box", False, 1).to_json() == {
        "container": "box", "session": "coi-box", "attached": False, "windows": 1}


@pytest.mark.parametrize("stderr", [b"can't find session: =coi-box",
                                    b"no server running on /tmp/tmux-1000/default",
                                    b"error connecting to /tmp/tmux-1000/default"])
def test_a_missing_session_is_not_found(stderr: bytes) -> None:
    with pytest.raises(NotFound, match="no tmux session coi-box in box"):
        _check(ExecResult(b"", stderr, 1), "box")


def test_missing_tmux_and_other_failures() -> None:
    with pytest.raises(CoiError, match="tmux is not installed in box"):
        _check(ExecResult(b"", b"", 127), "box")
    with pytest.raises(CoiError, match="tmux failed in box: boom"):
        _check(ExecResult(b"", b"boom\n", 1), "box")
    _check(ExecResult(b"", b"", 0), "box")
