"""Which container a command acts on, and the checks that it exists and runs.

Resolution order (as in the original): an explicit name (`-c NAME`), else
`$COI_CONTAINER`, else the one session container of the workspace (`-w PATH`, default the
current directory), found by the workspace hash in its name. Several is an error that
lists them; none is an error that says how to start or name one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from coi.errors import CoiError, IncusNotFound, NotFound, UsageError
from coi.workspace import container_prefix, parse_container_name, workspace_hash

if TYPE_CHECKING:
    from coi.incus.client import Client
    from coi.incus.instances import Instance

ENV_VAR = "COI_CONTAINER"
LIST_HINT = "`coi container list` shows the containers"


class NotRunning(CoiError):
    """The container exists but is stopped (or frozen) and the operation needs it up."""


def workspace_containers(names: Iterable[str], workspace: str, prefix: str) -> list[str]:
    """The session containers of `workspace` among `names`, by slot."""
    wanted = workspace_hash(workspace)
    found = []
    for name in names:
        parsed = parse_container_name(name, prefix)
        if parsed is not None and parsed.hash == wanted:
            found.append((parsed.slot, name))
    return [name for _, name in sorted(found)]


def pick(explicit: str | None, environ: Mapping[str, str], workspace: str,
         candidates: list[str]) -> str:
    """Apply the resolution order; `candidates` are the workspace's session containers."""
    if explicit:
        return explicit
    if environ.get(ENV_VAR):
        return environ[ENV_VAR]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise NotFound(f"no coi container for the workspace {workspace}",
                       hint="start a session with `coi shell`, or name a container with "
                            f"-c NAME or ${ENV_VAR}")
    raise UsageError(f"the workspace {workspace} has {len(candidates)} containers: "
                     + ", ".join(candidates), hint="pick one with -c NAME")


def resolve(client: Client, explicit: str | None, workspace: str,
            environ: Mapping[str, str]) -> str:
    """The target container's name; the daemon is asked only when it must be."""
    if explicit or environ.get(ENV_VAR):
        return pick(explicit, environ, workspace, [])
    from coi.incus.instances import list_instances

    prefix = container_prefix(environ)
    names = [i.name for i in list_instances(client, prefix, with_state=False)]
    return pick(None, environ, workspace, workspace_containers(names, workspace, prefix))


def require(client: Client, name: str, *, with_state: bool = False) -> Instance:
    """The instance `name`, or NotFound with a message naming it."""
    from coi.incus.instances import get

    try:
        return get(client, name, with_state=with_state)
    except IncusNotFound:
        raise NotFound(f"no container named {name}", hint=LIST_HINT) from None


def require_running(client: Client, name: str) -> Instance:
    instance = require(client, name)
    if not instance.running:
        raise NotRunning(f"container {name} is not running ({instance.status.lower()})",
                         hint=f"start it with `coi container start {name}`")
    return instance


def workspace_source(instance: Instance) -> str | None:
    """The host directory mounted at /workspace in the instance, if any."""
    for device in instance.expanded_devices.values():
        if device.get("type") == "disk" and device.get("path", "").rstrip("/") == "/workspace":
            return device.get("source") or None
    return None
