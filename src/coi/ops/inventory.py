"""`coi container list` and `info`: raw Incus data, summarised into stable JSON shapes.

list: [{"name", "status", "type", "ephemeral", "ipv4": [...], "image", "image_fingerprint",
        "created"}]
info: the list fields plus {"profiles", "ipv6", "pid", "processes", "memory_bytes",
       "config", "devices", "snapshots"}; `config` leaves out Incus' volatile.* keys.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from coi.incus.instances import Instance, list_instances
from coi.ops.target import require

if TYPE_CHECKING:
    from coi.incus.client import Client


def summary(instance: Instance) -> dict[str, Any]:
    config = instance.expanded_config
    state = instance.state
    return {
        "name": instance.name,
        "status": instance.status,
        "type": instance.type,
        "ephemeral": instance.ephemeral,
        "ipv4": state.ipv4 if state is not None else [],
        "image": config.get("image.description", ""),
        "image_fingerprint": config.get("volatile.base_image", ""),
        "created": instance.created_at,
    }


def details(instance: Instance) -> dict[str, Any]:
    state = instance.state
    return summary(instance) | {
        "profiles": list(instance.profiles),
        "ipv6": state.ipv6 if state is not None else [],
        "pid": state.pid if state is not None else 0,
        "processes": state.processes if state is not None else 0,
        "memory_bytes": state.memory_usage if state is not None else 0,
        "config": {k: v for k, v in sorted(instance.config.items())
                   if not k.startswith("volatile.")},
        "devices": instance.devices,
        "snapshots": list(instance.snapshots),
    }


def listing(client: Client) -> list[dict[str, Any]]:
    """Every instance in the project, with its state, in one request, by name."""
    return [summary(i) for i in sorted(list_instances(client), key=lambda i: i.name)]


def info(client: Client, name: str) -> dict[str, Any]:
    return details(require(client, name, with_state=True))
