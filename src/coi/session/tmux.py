"""tmux command lines: the session the tool runs in, and the ways to reach it.

The tool runs in tmux session `coi-<container>`, created detached as the code user. Its
command is `bash -c 'trap : INT; <tool>; exec bash'`: Ctrl-C reaches the tool, not the
wrapper, and when the tool exits the user lands in a shell (as in the original). The
session-closed hook signals `WAIT_CHANNEL`, which the supervisor waits on (watch.py).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence

WAIT_CHANNEL = "coi-session-closed"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def session_name(container: str) -> str:
    return f"coi-{container}"


def _target(container: str) -> str:
    return "=" + session_name(container)  # "=": exact name, not a prefix match


def base_env(home: str, user: str = "code") -> dict[str, str]:
    """What every exec as the code user needs (Incus would give root's HOME otherwise)."""
    return {"HOME": home, "USER": user, "LOGNAME": user, "PATH": DEFAULT_PATH,
            "LANG": "en_US.UTF-8"}


def wrapped_command(tool_argv: Sequence[str]) -> str:
    """The shell command tmux runs: the tool, then an interactive bash."""
    inner = f"trap : INT; {shlex.join(tool_argv)}; exec bash"
    return shlex.join(["bash", "-c", inner])


def new_session_argv(container: str, tool_argv: Sequence[str], env: Mapping[str, str], *,
                     cwd: str = "/workspace", width: int = 200, height: int = 50) -> list[str]:
    """Create the detached session (and the hook the supervisor's wait relies on).
    `-A`: if it exists already (a retried start), leave it be instead of failing."""
    env_flags = [flag for key, value in env.items() for flag in ("-e", f"{key}={value}")]
    return ["tmux", "new-session", "-A", "-d", "-s", session_name(container),
            "-x", str(width), "-y", str(height), "-c", cwd, *env_flags,
            wrapped_command(tool_argv),
            ";", "set-hook", "-g", "session-closed", f"wait-for -S {WAIT_CHANNEL}"]


def has_session_argv(container: str) -> list[str]:
    return ["tmux", "has-session", "-t", _target(container)]


def kill_session_argv(container: str) -> list[str]:
    return ["tmux", "kill-session", "-t", _target(container)]


def attach_argv(container: str) -> list[str]:
    return ["tmux", "attach-session", "-t", _target(container)]


def wait_argv() -> list[str]:
    return ["tmux", "wait-for", WAIT_CHANNEL]


def incus_exec_argv(container: str, command: Sequence[str], *, uid: int,
                    env: Mapping[str, str], remote: str = "", project: str = "default",
                    cwd: str = "/workspace") -> list[str]:
    """`incus exec -t` for an interactive terminal: the one use of the incus CLI (it does
    raw mode, window resize and signals well). Honours the configured remote/project."""
    target = f"{remote}:{container}" if remote else container
    # The project always: the CLI's own current project may be another one.
    argv = ["incus", "exec", "-t", target, "--project", project, "--user", str(uid),
            "--group", str(uid), "--cwd", cwd]
    for key, value in env.items():
        argv += ["--env", f"{key}={value}"]
    return [*argv, "--", *command]
