"""An interactive command on a PTY in the container, wired to the local terminal.

The local terminal goes to raw mode (so Ctrl-C, Ctrl-D and arrows reach the command) and
is restored however the command ends; a SIGWINCH resizes the remote PTY. Without a local
terminal the remote command still gets a PTY (80x24), fed from whatever stdin is.
"""

from __future__ import annotations

import contextlib
import os
import signal
import termios
import tty
from collections.abc import Iterator
from typing import TYPE_CHECKING

from coi.incus import exec as incus_exec

if TYPE_CHECKING:
    from types import FrameType

    from coi.incus.client import Client
    from coi.ops.execute import Prepared

DEFAULT_SIZE = (80, 24)


def window_size(*fds: int) -> tuple[int, int]:
    """(columns, lines) of the first descriptor that is a terminal."""
    for fd in fds:
        with contextlib.suppress(OSError):
            size = os.get_terminal_size(fd)
            if size.columns and size.lines:
                return size.columns, size.lines
    return DEFAULT_SIZE


@contextlib.contextmanager
def raw_mode(fd: int) -> Iterator[None]:
    """Put the terminal `fd` in raw mode (no-op if it is not one); always restore it."""
    if not os.isatty(fd):
        yield
        return
    saved = termios.tcgetattr(fd)
    tty.setraw(fd, termios.TCSANOW)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


@contextlib.contextmanager
def forward_resize(session: incus_exec.ExecSession, *fds: int) -> Iterator[None]:
    def on_winch(signum: int, frame: FrameType | None) -> None:
        with contextlib.suppress(Exception):  # the session may be ending: not worth a crash
            session.resize(*window_size(*fds))

    previous = signal.signal(signal.SIGWINCH, on_winch)
    try:
        yield
    finally:
        signal.signal(signal.SIGWINCH, previous)


def _writer(fd: int) -> incus_exec.Sink:
    def write(data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]

    return write


def run_pty(client: Client, job: Prepared, stdin_fd: int = 0, stdout_fd: int = 1) -> int:
    """Run `job` on a PTY attached to this terminal; the command's exit status."""
    width, height = window_size(stdout_fd, stdin_fd)
    session = incus_exec.start(client, job.name, job.command, env=job.env, user=job.uid,
                               group=job.gid, cwd=job.cwd, interactive=True,
                               width=width, height=height, on_stdout=_writer(stdout_fd))
    with session, raw_mode(stdin_fd), forward_resize(session, stdout_fd, stdin_fd):
        incus_exec.feed(session, stdin_fd)
        return session.wait()
