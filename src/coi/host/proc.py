"""The one subprocess wrapper of `coi setup`: capture output, fail with its tail.

apt-get, mmdebstrap, usermod and friends all go through `run`, so every failure reads the
same way: which step, which command, its exit status, the last lines it printed, the fix.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from coi.errors import SetupError

TAIL_LINES = 15


@dataclass(frozen=True)
class Completed:
    """A finished command: its exit status, combined output and how long it took."""

    argv: tuple[str, ...]
    returncode: int
    output: str
    seconds: float


def tail(text: str, lines: int = TAIL_LINES) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def run(
    argv: Sequence[str],
    *,
    step: str,
    fix: str | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    check: bool = True,
) -> Completed:
    """Run `argv`, stdout and stderr captured together (in order, as a user would see them).

    With `check`, a non-zero exit raises SetupError naming `step`, the command and the tail
    of its output, with `fix` as the hint.
    """
    full_env = {**os.environ, **env} if env else None
    started = time.monotonic()
    cmd = shlex.join(argv)
    try:
        proc = subprocess.run(
            list(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=full_env, timeout=timeout, check=False, text=True, errors="replace",
        )
    except FileNotFoundError:
        raise SetupError(f"{step}: `{argv[0]}` is not installed", hint=fix) from None
    except subprocess.TimeoutExpired as exc:
        out = exc.output if isinstance(exc.output, str) else ""
        raise SetupError(f"{step}: `{cmd}` did not finish in {timeout:.0f} s\n{tail(out)}",
                         hint=fix) from None
    done = Completed(tuple(argv), proc.returncode, proc.stdout or "",
                     time.monotonic() - started)
    if check and done.returncode != 0:
        raise SetupError(
            f"{step}: `{cmd}` failed with exit status {done.returncode}\n{tail(done.output)}",
            hint=fix,
        )
    return done
