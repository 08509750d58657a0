"""The Incus REST client: the one way coi talks to the daemon.

`import coi.incus` loads nothing else: `connect`, `Client` and friends are imported on
first use, so commands that never reach the daemon do not pay for http.client, yaml or
websockets. Helpers live in submodules: instances, exec, files, images, snapshots.
"""

from __future__ import annotations

# Not `from typing import TYPE_CHECKING`: importing typing alone costs ~7 ms here.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from coi.incus.client import Client, Operation, Response
    from coi.incus.exec import ExecResult
    from coi.incus.instances import Instance, InstanceState
    from coi.incus.remotes import connect
    from coi.incus.transport import Endpoint

__all__ = [
    "Client",
    "Endpoint",
    "ExecResult",
    "Instance",
    "InstanceState",
    "Operation",
    "Response",
    "connect",
]

_HOMES = {
    "Client": "coi.incus.client",
    "Operation": "coi.incus.client",
    "Response": "coi.incus.client",
    "Endpoint": "coi.incus.transport",
    "ExecResult": "coi.incus.exec",
    "Instance": "coi.incus.instances",
    "InstanceState": "coi.incus.instances",
    "connect": "coi.incus.remotes",
}


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'coi.incus' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # later look-ups skip this function
    return value
