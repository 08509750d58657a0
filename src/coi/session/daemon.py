"""Starting the supervisor as a detached process, and detaching once inside it.

`spawn` runs `python -m coi _supervise …` in a new session (setsid), stdin from
/dev/null, stdout and stderr to the log file, passing it the run lock's descriptor and
the write end of a "ready" pipe. That process forks once more and exits (so it is never
a zombie of `coi shell`, and as a non-leader can never gain a controlling terminal); the
grandchild is the supervisor. `spawn` returns once it says "ready <pid>" on the pipe.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

from coi.errors import CoiError
from coi.session.supervisor import SupervisorSpec
from coi.state import make_dirs

READY_TIMEOUT = 20.0


def spec_args(spec: SupervisorSpec) -> list[str]:
    return ["--spec", spec.to_json()]


def spawn(spec: SupervisorSpec, lock_fd: int) -> int:
    """Start the supervisor, handing it `lock_fd`; return its pid once it is ready.
    Forked by the fork server when it can be (shared memory, see
    coi.session.forkserver), else a fresh interpreter."""
    make_dirs(spec.log_path.parent, spec.owner)
    read_end, write_end = os.pipe()
    try:
        with open(spec.log_path, "ab") as log:
            if spec.owner is not None:
                os.fchown(log.fileno(), *spec.owner)
            if not _via_forkserver(spec, (lock_fd, write_end, log.fileno())):
                _via_interpreter(spec, lock_fd, write_end, log)
        os.close(write_end)
        write_end = -1
        message = _read_ready(read_end, READY_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CoiError(f"the session supervisor did not start: {exc}",
                       hint=f"see {spec.log_path}") from exc
    finally:
        os.close(read_end)
        if write_end >= 0:
            os.close(write_end)
    parts = message.split()
    if len(parts) != 2 or parts[0] != b"ready":
        raise CoiError("the session supervisor did not start", hint=f"see {spec.log_path}")
    return int(parts[1])


def _via_forkserver(spec: SupervisorSpec, fds: tuple[int, int, int]) -> bool:
    from coi.session import forkserver
    from coi.session.paths import run_dir

    if os.environ.get("COI_NO_FORKSERVER") or spec.owner is not None:
        return False  # (for another user's session: a server of theirs, not ours)
    try:
        forkserver.request(run_dir(spec.coi_home), spec.to_json(), fds)
    except OSError as exc:
        with open(spec.log_path, "a") as log:
            log.write(f"fork server unavailable ({exc}); starting a new interpreter\n")
        return False
    return True


def _via_interpreter(spec: SupervisorSpec, lock_fd: int, ready_fd: int,
                     log: IO[bytes]) -> None:
    argv = [sys.executable, "-m", "coi", "_supervise", *spec_args(spec),
            "--lock-fd", str(lock_fd), "--ready-fd", str(ready_fd)]
    child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                             pass_fds=(lock_fd, ready_fd), start_new_session=True, cwd="/")
    child.wait(timeout=READY_TIMEOUT)  # the first process exits once it has forked


def _read_ready(fd: int, timeout: float) -> bytes:
    """Read until EOF or a full line (the supervisor keeps running after it writes)."""
    deadline = time.monotonic() + timeout
    data = b""
    while b"\n" not in data:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            break
        chunk = os.read(fd, 256)
        if not chunk:
            break
        data += chunk
    return data.strip()


def detach() -> None:
    """In the `_supervise` process: fork, and let the parent exit at once."""
    if os.fork() > 0:
        os._exit(0)
    os.chdir("/")


def signal_ready(fd: int) -> None:
    os.write(fd, f"ready {os.getpid()}\n".encode())
    os.close(fd)


def supervise_main(argv: list[str]) -> int:
    """`python -m coi _supervise --spec JSON --lock-fd N --ready-fd N`, parsed here
    without click: the supervisor lives as long as its session, and what it imports
    stays in memory all that time."""
    options = dict(zip(argv[::2], argv[1::2], strict=False))
    try:
        lock_fd, ready_fd = int(options["--lock-fd"]), int(options["--ready-fd"])
    except (KeyError, ValueError) as exc:
        print(f"usage: coi _supervise --spec JSON --lock-fd N --ready-fd N ({exc})",
              file=sys.stderr)
        return 2
    return run_supervisor(options.get("--spec", ""), lock_fd, ready_fd, detached=False)


def run_supervisor(spec_json: str, lock_fd: int, ready_fd: int, *,
                   detached: bool = True) -> int:
    """Be the supervisor of `spec_json` (`SupervisorSpec.to_json`); `detached`: this
    process has left the spawner's session already (forked by coi.session.forkserver)."""
    import logging

    from coi.session.supervisor import supervise

    try:
        spec = SupervisorSpec.from_json(spec_json)
    except (KeyError, ValueError, TypeError) as exc:
        print(f"coi _supervise: a bad --spec ({exc})", file=sys.stderr)
        return 2
    if not detached:
        detach()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("coi.supervisor").info(
        "supervising %s (session %s, lock fd %d)", spec.container, spec.session_id, lock_fd)
    outcome = supervise(spec, ready=lambda: signal_ready(ready_fd), lock_fd=lock_fd)
    logging.getLogger("coi.supervisor").info("done: %s", outcome)
    return 0


def log_path(logs_dir: Path, container: str) -> Path:
    return logs_dir / f"supervisor-{container}.log"
