"""tmux command lines, TERM sanitising and the tool's environment."""

from __future__ import annotations

import shlex

import pytest

from coi.errors import UsageError
from coi.session import tmux
from coi.session.env import parse_env_pairs, sanitize_term


def test_new_session_wraps_the_tool_and_installs_the_hook() -> None:
    argv = tmux.new_session_argv("coi-abc-1", ["claude", "--resume", "it's"],
                                 {"A": "x y", "B": "$HOME"}, width=120, height=40)
    assert argv[:7] == ["tmux", "new-session", "-A", "-d", "-s", "coi-coi-abc-1", "-x"]
    assert argv[argv.index("-c") + 1] == "/workspace"
    assert argv[argv.index("-e"):argv.index("-e") + 2] == ["-e", "A=x y"]
    assert "B=$HOME" in argv  # argv, not a shell: nothing expands on the way
    command = argv[argv.index("B=$HOME") + 1]
    outer = shlex.split(command)
    assert outer[:2] == ["bash", "-c"]
    inner = shlex.split(outer[2].replace("; exec bash", "").replace("trap : INT; ", ""))
    assert inner == ["claude", "--resume", "it's"], "quoting survives two shells"
    assert outer[2].startswith("trap : INT; ") and outer[2].endswith("; exec bash")
    assert argv[-5:] == [";", "set-hook", "-g", "session-closed",
                         f"wait-for -S {tmux.WAIT_CHANNEL}"]


def test_targets_are_exact_names() -> None:
    assert tmux.has_session_argv("c-1")[-1] == "=coi-c-1"
    assert tmux.attach_argv("c-1") == ["tmux", "attach-session", "-t", "=coi-c-1"]
    assert tmux.kill_session_argv("c-1")[-1] == "=coi-c-1"


def test_incus_exec_honours_remote_and_project() -> None:
    argv = tmux.incus_exec_argv("c-1", ["tmux", "attach"], uid=1000, env={"TERM": "xterm"},
                                remote="lab", project="work")
    assert argv[:4] == ["incus", "exec", "-t", "lab:c-1"]
    assert argv[argv.index("--project") + 1] == "work"
    assert argv[argv.index("--user") + 1] == "1000" == argv[argv.index("--group") + 1]
    assert argv[argv.index("--env"):argv.index("--env") + 2] == ["--env", "TERM=xterm"]
    assert argv[-3:] == ["--", "tmux", "attach"]
    local = tmux.incus_exec_argv("c-1", ["bash"], uid=1000, env={})
    assert local[3] == "c-1" and "--project" in local


@pytest.mark.parametrize("term,expected", [
    ("xterm-256color", "xterm-256color"), ("screen", "screen"), ("tmux-256color", "tmux-256color"),
    ("xterm-kitty", "xterm-256color"), ("alacritty", "xterm-256color"), (None, "xterm-256color"),
    ("", "xterm-256color"), ("xterm;rm -rf /", "xterm-256color"),
])
def test_term_is_one_the_container_knows(term: str | None, expected: str) -> None:
    assert sanitize_term(term) == expected


def test_env_pairs() -> None:
    host = {"FROM_HOST": "h"}
    assert parse_env_pairs(["A=1", "B=x=y", "C=", "FROM_HOST", "UNSET"], host) == {
        "A": "1", "B": "x=y", "C": "", "FROM_HOST": "h"}
    for bad in ("=1", "1A=2", "A-B=3"):
        with pytest.raises(UsageError, match="--env"):
            parse_env_pairs([bad], host)
