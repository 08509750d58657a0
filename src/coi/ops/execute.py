"""`coi container exec`: run a command in a container, streamed, captured or on a PTY.

Exit statuses follow docker: the command's own status passes through; coi's own failures
(no such container, a stopped one, a daemon error) are 125; the daemon itself reports 126
(not executable) and 127 (not found) as the command's status. Usage errors stay 2.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING

from coi.errors import CoiError, NotFound, UsageError
from coi.incus import exec as incus_exec
from coi.ops.target import require_running, workspace_source
from coi.ops.users import lookup_group, lookup_user

if TYPE_CHECKING:
    from coi.incus.client import Client
    from coi.incus.instances import Instance

EXIT_COI_FAILED = 125


class ExecFailed(CoiError):
    """coi could not run the command at all (docker's 125)."""

    exit_code = EXIT_COI_FAILED


@contextlib.contextmanager
def docker_exit_codes() -> Iterator[None]:
    """Report every failure but a usage error with status 125, keeping its message."""
    try:
        yield
    except (UsageError, ExecFailed):
        raise
    except CoiError as exc:
        raise ExecFailed(exc.message, exc.hint) from exc


def parse_env(pairs: Sequence[str]) -> dict[str, str]:
    env = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--env wants KEY=VALUE, not {pair!r}")
        env[key] = value
    return env


@dataclass(frozen=True)
class ExecRequest:
    name: str
    command: tuple[str, ...]
    user: str | None = None
    group: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None
    tty: bool = False


@dataclass(frozen=True)
class Prepared:
    """An ExecRequest resolved against the container: ids, environment, directory."""

    name: str
    command: tuple[str, ...]
    uid: int | None
    gid: int | None
    env: dict[str, str]
    cwd: str | None


def prepare(client: Client, request: ExecRequest) -> Prepared:
    """Check the container runs; resolve user and group names; pick the directory."""
    if not request.command:
        raise UsageError("no command given", hint="put it after --: exec NAME -- CMD ARGS")
    instance = require_running(client, request.name)
    user = None if request.user is None else lookup_user(client, request.name, request.user)
    gid = user.gid if user else None
    if request.group is not None:
        gid = lookup_group(client, request.name, request.group)
    if request.cwd:
        check_dir(client, request.name, request.cwd)
    env = user.env() if user and user.uid != 0 else {}  # Incus sets root's HOME itself
    if request.tty:
        env |= terminal_env(os.environ)
    return Prepared(request.name, request.command, user.uid if user else None, gid,
                    env | dict(request.env),
                    request.cwd or default_cwd(instance, user.home if user else None))


def default_cwd(instance: Instance, home: str | None) -> str | None:
    """/workspace in a session container, else the user's home (else Incus' default)."""
    return "/workspace" if workspace_source(instance) else home


def check_dir(client: Client, name: str, path: str) -> None:
    """Incus silently runs in / when the directory is missing: refuse that instead."""
    from coi.incus.files import DIRECTORY, stat

    try:
        is_dir = path.startswith("/") and stat(client, name, path).type == DIRECTORY
    except NotFound:
        is_dir = False
    if not is_dir:
        raise ExecFailed(f"--cwd {path}: no such directory in {name}",
                         hint="give an absolute path to an existing directory")


def input_fd(stdin: IO[bytes] | None) -> int | None:
    """The descriptor to forward: piped input only. A terminal without -t gets EOF (as
    `docker exec` without -i), so a command never waits on keys typed for coi."""
    try:
        fd = None if stdin is None else stdin.fileno()
    except (OSError, ValueError):  # io.UnsupportedOperation is both
        return None
    return None if fd is None or os.isatty(fd) else fd


def _feed_or_close(session: incus_exec.ExecSession, stdin: IO[bytes] | None,
                   sent: list[int] | None = None) -> None:
    fd = input_fd(stdin)
    if fd is None:
        session.close_stdin()
    else:
        incus_exec.feed(session, fd, sent)


def stream(client: Client, job: Prepared, stdin: IO[bytes] | None,
           stdout: IO[bytes], stderr: IO[bytes]) -> incus_exec.ExecResult:
    """Run with output streamed to `stdout`/`stderr` as it comes. The result holds the
    status, and as `stderr` the first error bytes only (to tell if there were any).
    A command Incus could not start (`incus_exec.never_started`) is started again when
    that cannot lose input: no stdin to forward, or /dev/null."""
    pauses = incus_exec.RETRY_PAUSES if _replayable(stdin) else ()
    for pause in (*pauses, None):
        result, touched = _stream_once(client, job, stdin, stdout, stderr)
        if pause is None or touched or result.exit_code != incus_exec.NOT_STARTED:
            return result
        time.sleep(pause)
    raise AssertionError("unreachable")


def _replayable(stdin: IO[bytes] | None) -> bool:
    fd = input_fd(stdin)
    if fd is None:
        return True
    try:
        return os.fstat(fd).st_rdev == os.stat(os.devnull).st_rdev != 0
    except OSError:
        return False


def _stream_once(client: Client, job: Prepared, stdin: IO[bytes] | None,
                 stdout: IO[bytes], stderr: IO[bytes]) -> tuple[incus_exec.ExecResult, bool]:
    """One try; also whether anything went either way (output shown, input read)."""
    first_err = bytearray()
    wrote_out = [False]
    write_err = incus_exec.stream_writer(stderr)
    write_out = incus_exec.stream_writer(stdout)

    def on_stderr(data: bytes) -> None:
        if not first_err:
            first_err.extend(data[:1])
        write_err(data)

    def on_stdout(data: bytes) -> None:
        wrote_out[0] = wrote_out[0] or bool(data)
        write_out(data)

    sent = [0]
    with incus_exec.start(client, job.name, job.command, env=job.env, user=job.uid,
                          group=job.gid, cwd=job.cwd, on_stdout=on_stdout,
                          on_stderr=on_stderr) as session:
        _feed_or_close(session, stdin, sent)
        code = session.wait()
    touched = bool(first_err) or wrote_out[0] or sent[0] > 0  # it ran, or took input
    return incus_exec.ExecResult(b"", bytes(first_err), code, session.error), touched


def capture(client: Client, job: Prepared,
            stdin: IO[bytes] | None) -> incus_exec.ExecResult:
    out, err = bytearray(), bytearray()
    with incus_exec.start(client, job.name, job.command, env=job.env, user=job.uid,
                          group=job.gid, cwd=job.cwd,
                          on_stdout=out.extend, on_stderr=err.extend) as session:
        _feed_or_close(session, stdin)
        code = session.wait()
    return incus_exec.ExecResult(bytes(out), bytes(err), code, session.error)


def captured_json(result: incus_exec.ExecResult) -> dict[str, object]:
    """The `--capture --format json` shape; output decoded as UTF-8, bad bytes as U+FFFD."""
    return {"stdout": result.stdout.decode("utf-8", errors="replace"),
            "stderr": result.stderr.decode("utf-8", errors="replace"),
            "exit_code": result.exit_code}


def silent_failure(job: Prepared, result: incus_exec.ExecResult) -> str | None:
    """A hint when the command may not have started: Incus prints nothing then. It
    cannot tell a missing command from a command's own silent `exit 127`, so neither
    can we: the hint says "usually"."""
    if not result.error or result.stderr:
        return None
    reason = {127: "not found", 126: "not executable"}.get(result.exit_code)
    if reason is None:
        return None
    return (f"{job.command[0]}: exit status {result.exit_code} with no error output, "
            f"which usually means the command is {reason} in {job.name}")


def terminal_env(environ: Mapping[str, str]) -> dict[str, str]:
    """TERM for a PTY: the host's when it is a plain name, else xterm-256color."""
    term = environ.get("TERM", "")
    ok = term and term != "dumb" and all(c.isalnum() or c in "-+._" for c in term)
    return {"TERM": term if ok else "xterm-256color"}

