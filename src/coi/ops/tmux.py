"""Drive the tmux session of a running coi session from scripts.

A session's tool runs in tmux session `coi-<container>`, started by the `code` user, so
its server listens on that user's socket (/tmp/tmux-<uid>/default). Every tmux command
here runs as that user, with its HOME, to reach that server. (The original ran them as
root at first and saw no session: #588.) Session targets are exact (`=name`), so
`coi-x-1` never matches `coi-x-10`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from coi.errors import CoiError, NotFound
from coi.incus import exec as incus_exec
from coi.incus.instances import list_instances
from coi.ops.target import require_running
from coi.ops.users import User, code_user

if TYPE_CHECKING:
    from coi.incus.client import Client
    from coi.incus.exec import ExecResult

NO_SERVER = ("no server running", "error connecting to", "no sessions")


def session_name(container: str) -> str:
    return f"coi-{container}"


def pane(container: str) -> str:
    """The active pane of the session, matched exactly."""
    return f"={session_name(container)}:"


def _tmux(client: Client, container: str, user: User, args: Sequence[str]) -> ExecResult:
    return incus_exec.run(client, container, ["tmux", *args], user=user.uid, group=user.gid,
                          env=user.env(), cwd=user.home, timeout=30)


def _check(result: ExecResult, container: str) -> None:
    if result.exit_code == 0:
        return
    if result.exit_code == 127:
        raise CoiError(f"tmux is not installed in {container}")
    message = result.stderr.decode(errors="replace").strip()
    if any(s in message for s in NO_SERVER) or "can't find" in message:
        raise NotFound(f"no tmux session {session_name(container)} in {container}",
                       hint="is a coi session running there? `coi tmux list` shows them")
    raise CoiError(f"tmux failed in {container}: {message or f'exit {result.exit_code}'}")


def send(client: Client, container: str, text: str, *, enter: bool = True) -> None:
    """Type `text` into the session (literally: key names are not interpreted), then
    Enter unless told not to."""
    require_running(client, container)
    user = code_user(client, container)
    _check(_tmux(client, container, user, ["send-keys", "-t", pane(container), "-l", "--", text]),
           container)
    if enter:
        _check(_tmux(client, container, user, ["send-keys", "-t", pane(container), "Enter"]),
               container)


def capture(client: Client, container: str, lines: int | None = None) -> str:
    """The visible pane, or the last `lines` lines including scrollback; trailing blank
    lines dropped."""
    require_running(client, container)
    args = ["capture-pane", "-p", "-J", "-t", pane(container)]
    if lines is not None:
        args += ["-S", f"-{lines}"]
    result = _tmux(client, container, code_user(client, container), args)
    _check(result, container)
    text = result.stdout.decode(errors="replace").rstrip("\n").split("\n")
    while text and not text[-1].strip():
        text.pop()
    return "\n".join(text[-lines:] if lines is not None else text)


@dataclass(frozen=True)
class TmuxSession:
    container: str
    session: str
    attached: bool
    windows: int

    def to_json(self) -> dict[str, Any]:
        return {"container": self.container, "session": self.session,
                "attached": self.attached, "windows": self.windows}


FORMAT = "#{session_name}\t#{session_attached}\t#{session_windows}"


def sessions(client: Client, prefix: str) -> list[TmuxSession]:
    """Running containers named `prefix…` that have their `coi-<name>` tmux session.
    A container that stops or goes away meanwhile is simply left out."""
    found = []
    for instance in list_instances(client, prefix, with_state=False):
        if not instance.running:
            continue
        try:
            result = _tmux(client, instance.name, code_user(client, instance.name),
                           ["list-sessions", "-F", FORMAT])
        except CoiError:
            continue
        found += _parse_sessions(instance.name, result.stdout.decode(errors="replace"))
    return found


def _parse_sessions(container: str, text: str) -> list[TmuxSession]:
    found = []
    for line in text.splitlines():
        name, attached, windows = [*line.split("\t"), "", "", ""][:3]
        if name == session_name(container):
            found.append(TmuxSession(container, name, attached not in ("", "0"),
                                     int(windows) if windows.isdigit() else 0))
    return found
