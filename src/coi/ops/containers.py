"""Container lifecycle for `coi container`: launch, start, stop, delete, mount, inspect.

Thin over `coi.incus.instances`, adding what a user needs: launch in one create+start
request with the nesting keys, idempotent start/stop, a delete that refuses a running
container unless forced, and errors that say what to do next.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from coi.errors import CoiError, IncusError, IncusNotFound, NotFound, UsageError
from coi.incus import instances
from coi.ops.target import require

if TYPE_CHECKING:
    from coi.incus.client import Client

# Docker (and other nested containers) need these; the original set them on launch too.
NESTING_CONFIG = {
    "security.nesting": "true",
    "security.syscalls.intercept.mknod": "true",
    "security.syscalls.intercept.setxattr": "true",
}


def launch(client: Client, image: str, name: str, *, ephemeral: bool = False) -> None:
    """Create and start `name` from `image` in a single request."""
    try:
        instances.create(client, name, image=image, config=NESTING_CONFIG,
                         ephemeral=ephemeral, start=True, timeout=300)
    except IncusNotFound as exc:
        raise NotFound(f"no image {image!r}",
                       hint="`coi image list --all` shows the images") from exc


def start(client: Client, name: str) -> bool:
    """Start (or unfreeze) `name`; False if it was running already."""
    status = require(client, name).status
    if status == "Running":
        return False
    if status == "Frozen":
        instances.unfreeze(client, name)
    else:
        instances.start(client, name, timeout=120)
    return True


def stop(client: Client, name: str, *, force: bool = False, timeout: int = 30) -> bool:
    """Stop `name` (killed at once with `force`); False if it was stopped already."""
    if require(client, name).status == "Stopped":
        return False
    try:
        instances.stop(client, name, force=force, timeout=timeout)
    except IncusError as exc:
        if force or exc.status_code == 400:
            raise
        raise CoiError(f"{name} did not stop within {timeout} s ({exc.message})",
                       hint="wait longer with --timeout, or kill it with --force") from exc
    return True


def delete(client: Client, name: str, *, force: bool = False) -> None:
    if require(client, name).status != "Stopped" and not force:
        raise CoiError(f"container {name} is running; coi will not delete it",
                       hint=f"stop it first (`coi container stop {name}`) or use --force")
    instances.delete(client, name, force=force)


def exists(client: Client, name: str) -> bool:
    try:
        require(client, name)
    except NotFound:
        return False
    return True


def running(client: Client, name: str) -> bool:
    try:
        return require(client, name).running
    except NotFound:
        return False


@dataclass(frozen=True)
class Mount:
    device: str
    source: str
    path: str
    shift: bool = True
    readonly: bool = False

    def spec(self) -> dict[str, str]:
        spec = {"type": "disk", "source": self.source, "path": self.path}
        if self.shift:
            spec["shift"] = "true"
        if self.readonly:
            spec["readonly"] = "true"
        return spec


def make_mount(device: str, source: str, path: str, *, shift: bool = True,
               readonly: bool = False, cwd: str | None = None) -> Mount:
    """Check and normalise a mount: an existing host directory or file, an absolute PATH."""
    host = os.path.abspath(os.path.join(cwd or os.getcwd(), source))
    if not os.path.exists(host):
        raise NotFound(f"no such host path: {host}")
    if not path.startswith("/"):
        raise UsageError(f"the container path must be absolute, not {path!r}")
    return Mount(device, host, path, shift, readonly)


def mount(client: Client, name: str, spec: Mount) -> None:
    """Add the disk device (hot-plugged into a running container)."""
    instance = require(client, name)
    if spec.device in instance.devices:
        raise CoiError(f"{name} has a device named {spec.device!r} already",
                       hint="pick another DEVICE name")
    try:
        instances.add_device(client, name, spec.device, spec.spec())
    except IncusError as exc:
        if instance.running and not spec.shift:
            # Measured on Incus 6.0.4: hot-adding an unshifted disk fails in some runs
            # (forkmount); it works once the container is stopped, or with shifting.
            raise CoiError(f"Incus could not add an unshifted mount to the running "
                           f"container {name}: {exc.message}",
                           hint=f"stop it first (`coi container stop {name}`) and mount "
                                "again, or mount with --shift") from exc
        raise
