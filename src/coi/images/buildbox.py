"""The build container: made ready for nesting, filled, run, stopped and removed.

It starts in the create request itself, with the keys Docker needs to run nested (the
`coi` image installs Docker, whose package starts the daemon). Before anything is pushed
it must be ready: systemd up (the boot empties /tmp) and the apt hosts resolving.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import secrets
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from coi.errors import CoiError, CoiTimeout, IncusError
from coi.images.buildlog import BuildOutput
from coi.images.events import Kind
from coi.images.sources import BuildFile, recipe_text
from coi.images.stale import BUILD_PREFIX
from coi.incus import exec as incus_exec
from coi.incus import files, instances
from coi.incus.client import Client
from coi.incus.exec import ExecResult

NESTING = {
    "security.nesting": "true",
    "security.syscalls.intercept.mknod": "true",
    "security.syscalls.intercept.setxattr": "true",
}
READY_TIMEOUT = 120
STOP_TIMEOUT = 30
WORKSPACE = "/workspace"
def new_name() -> str:
    return f"{BUILD_PREFIX}{secrets.token_hex(4)}"


def workspace_device(path: Path) -> dict[str, dict[str, str]]:
    """The host directory `path`, read-only at /workspace during the build. Shifted (an
    idmapped mount), so the build's root reads it as the host's owner would; unshifted,
    root in the container is nobody to the host and private directories stay shut."""
    return {"workspace": {"type": "disk", "source": str(path), "path": WORKSPACE,
                          "readonly": "true", "shift": "true"}}


def create(client: Client, name: str, fingerprint: str, workspace: Path | None) -> None:
    instances.create(
        client, name, fingerprint=fingerprint, config=NESTING, start=True,
        devices=workspace_device(workspace) if workspace else None,
        description=f"coi image build (pid {os.getpid()})", timeout=300,
    )


def wait_ready(client: Client, name: str, hosts: Sequence[str],
               timeout: float = READY_TIMEOUT) -> None:
    """Wait for an IPv4 address, then for systemd and DNS (ready.sh, in the container)."""
    deadline = time.monotonic() + timeout
    while not instances.state(client, name).ipv4:
        if time.monotonic() > deadline:
            raise CoiTimeout(f"the build container got no IPv4 address in {timeout:g} s",
                             hint="check the bridge with `coi health`")
        time.sleep(0.2)
    left = max(1, int(deadline - time.monotonic()))
    script = recipe_text("ready.sh").decode()
    result = quick(client, name, ["sh", "-c", script, "ready", str(left), *hosts],
                   timeout=left + 30)
    if not result.ok:
        reason = (result.stdout + result.stderr).decode(errors="replace").strip()
        raise CoiTimeout(f"the build container is not ready: "
                         f"{reason or f'the check exited with status {result.exit_code}'}",
                         hint="check its network and DNS with `coi health`")


def push(client: Client, name: str, items: Iterable[BuildFile]) -> None:
    made: set[str] = set()
    for item in items:
        parent = posixpath.dirname(item.dest)
        if parent not in made:
            files.mkdir(client, name, parent, parents=True)
            made.add(parent)
        files.write_file(client, name, item.dest, item.data, mode=item.mode)


def quick(client: Client, name: str, argv: Sequence[str], timeout: float) -> ExecResult:
    """A short command (tried again by `run` if Incus could not start it)."""
    return incus_exec.run(client, name, argv, timeout=timeout)


def run(client: Client, name: str, argv: Sequence[str], env: Mapping[str, str],
        output: BuildOutput, *, timeout: float | None = None) -> int:
    """Run the recipe as root, its output going to `output`; return its exit status.

    Its stdin is /dev/null, and the stdin stream stays open but unused: once sent EOF,
    Incus stops reading that websocket, so it answers no keepalive ping and the client
    library logs a failure (with a traceback) after about 40 s.
    """
    wrapped = ["sh", "-c", 'exec "$@" </dev/null', "sh", *argv]
    for pause in (*incus_exec.RETRY_PAUSES, None):
        code, heard = _attempt(client, name, wrapped, env, output, timeout=timeout)
        if not incus_exec.never_started(code, heard) or pause is None:
            break
        output.event(Kind.NOTE, "Incus could not start the recipe (a known race); "
                                "trying again")
        time.sleep(pause)
    output.flush()
    return code


def _attempt(client: Client, name: str, argv: Sequence[str], env: Mapping[str, str],
             output: BuildOutput, *, timeout: float | None) -> tuple[int, bytes]:
    """One run; its exit status and whether it printed anything (a byte, if so)."""
    heard = bytearray()

    def out(data: bytes) -> None:
        heard[:] = heard or data[:1]
        output.stdout(data)

    def err(data: bytes) -> None:
        heard[:] = heard or data[:1]
        output.stderr(data)

    with incus_exec.start(client, name, argv, env=env, cwd="/root",
                          on_stdout=out, on_stderr=err) as session:
        return session.wait(timeout), bytes(heard)


def remove_dir(client: Client, name: str, path: str) -> None:
    result = quick(client, name, ["rm", "-rf", "--", path], timeout=60)
    if not result.ok:
        raise CoiError(f"cannot remove {path} in the build container: "
                       f"{result.stderr.decode(errors='replace').strip()}")


def stop(client: Client, name: str, timeout: int = STOP_TIMEOUT) -> None:
    """A clean stop (services flush their state), forced when it takes too long."""
    try:
        instances.stop(client, name, timeout=timeout)
    except (IncusError, CoiTimeout):
        if instances.get(client, name).running:  # else the recipe powered it off itself
            instances.stop(client, name, force=True)


def remove(client: Client, name: str) -> bool:
    """Delete the container whatever its state; False if the daemon refused."""
    with contextlib.suppress(IncusError):
        instances.delete(client, name, force=True, missing_ok=True)
        return True
    return False
