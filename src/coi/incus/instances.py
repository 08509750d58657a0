"""Instances: create (everything in one request), power state, inspect, list, configure.

Batching is the point: a session's container is created with its whole config, devices
and profiles and started in a single POST, and `coi list` reads every container with
its state in one GET (`recursion=2`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from coi.errors import IncusConflict, IncusError, IncusNotFound, NotFound
from coi.incus.client import Client, quote
from coi.incus.state import InstanceState

__all__ = [
    "Instance",
    "InstanceState",
    "add_device",
    "create",
    "create_body",
    "delete",
    "freeze",
    "get",
    "list_instances",
    "remove_device",
    "restart",
    "start",
    "state",
    "stop",
    "unfreeze",
    "update_config",
]

Devices = Mapping[str, Mapping[str, str]]


@dataclass(frozen=True)
class Instance:
    """An instance's definition, plus its live state when it was asked for."""

    name: str
    status: str
    type: str
    ephemeral: bool
    profiles: tuple[str, ...]
    config: dict[str, str]
    devices: dict[str, dict[str, str]]
    expanded_config: dict[str, str]
    expanded_devices: dict[str, dict[str, str]]
    created_at: str
    description: str = ""
    project: str = "default"
    # Filled only when asked for (`get(with_state=True)`, `list_instances`).
    snapshots: tuple[str, ...] = ()
    state: InstanceState | None = field(default=None, compare=False)

    @property
    def running(self) -> bool:
        return self.status == "Running"

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Instance:
        live = data.get("state")
        return cls(
            name=str(data.get("name", "")),
            status=str(data.get("status", "")),
            type=str(data.get("type") or "container"),
            ephemeral=bool(data.get("ephemeral")),
            profiles=tuple(data.get("profiles") or ()),
            config=dict(data.get("config") or {}),
            devices={k: dict(v) for k, v in (data.get("devices") or {}).items()},
            expanded_config=dict(data.get("expanded_config") or {}),
            expanded_devices={k: dict(v) for k, v in (data.get("expanded_devices") or {}).items()},
            created_at=str(data.get("created_at", "")),
            description=str(data.get("description") or ""),
            project=str(data.get("project") or "default"),
            snapshots=tuple(str(s.get("name", "")) for s in data.get("snapshots") or ()),
            state=InstanceState.from_api(live) if isinstance(live, Mapping) else None,
        )


def _path(name: str) -> str:
    return f"/instances/{quote(name)}"


# -- create -------------------------------------------------------------------------------


def create_body(
    name: str,
    *,
    image: str | None = None,
    fingerprint: str | None = None,
    config: Mapping[str, str] | None = None,
    devices: Devices | None = None,
    profiles: Sequence[str] | None = None,
    ephemeral: bool = False,
    start: bool = False,
    description: str = "",
    instance_type: str = "container",
) -> dict[str, Any]:
    """The POST /1.0/instances body. `image` is an alias, `fingerprint` an image hash."""
    if (image is None) == (fingerprint is None):
        raise ValueError("give exactly one of image (an alias) or fingerprint")
    source = {"type": "image", **({"alias": image} if image else {"fingerprint": fingerprint})}
    body: dict[str, Any] = {
        "name": name, "type": instance_type, "source": source, "start": start,
        "ephemeral": ephemeral, "config": dict(config or {}),
        "devices": {k: dict(v) for k, v in (devices or {}).items()},
        "description": description,
    }
    if profiles is not None:  # absent means the daemon's `default` profile
        body["profiles"] = list(profiles)
    return body


def create(
    client: Client,
    name: str,
    *,
    image: str | None = None,
    fingerprint: str | None = None,
    config: Mapping[str, str] | None = None,
    devices: Devices | None = None,
    profiles: Sequence[str] | None = None,
    ephemeral: bool = False,
    start: bool = False,
    description: str = "",
    timeout: float | None = None,
) -> None:
    """Create (and with `start`, boot) an instance in one request.

    Raises IncusConflict if the name is taken, IncusNotFound for an unknown image.
    """
    body = create_body(
        name, image=image, fingerprint=fingerprint, config=config, devices=devices,
        profiles=profiles, ephemeral=ephemeral, start=start, description=description,
    )
    try:
        client.sync("POST", "/instances", body, timeout=timeout, context=f"create {name}")
    except IncusError as exc:
        clearer = _create_error(exc, name, image or fingerprint or "")
        if clearer is exc:
            raise
        raise clearer from exc


def _create_error(exc: IncusError, name: str, image: str) -> IncusError:
    """Incus 6.0 words two common failures vaguely, with no telling status code: a taken
    name (a failed database insert) and an unknown image ("Image not provided")."""
    if isinstance(exc, IncusConflict):
        return IncusConflict(f"an instance named {name} exists already", status_code=409)
    if "Image not provided" in exc.message:
        return IncusNotFound(f"no image {image!r} in the image store",
                             hint="`coi image list --all` shows the images", status_code=404)
    return exc


# -- power state --------------------------------------------------------------------------


def _action(client: Client, name: str, action: str, wait: float | None, **extra: Any) -> None:
    body = {"action": action, **extra}
    client.sync("PUT", f"{_path(name)}/state", body, timeout=wait, context=f"{action} {name}")


def start(client: Client, name: str, timeout: float | None = None) -> None:
    _action(client, name, "start", timeout)


def stop(client: Client, name: str, *, force: bool = False, timeout: int = 30) -> None:
    """Stop cleanly within `timeout` seconds (else IncusError), or kill with `force`."""
    _action(client, name, "stop", timeout + 30, force=force, timeout=-1 if force else timeout)


def restart(client: Client, name: str, *, force: bool = False, timeout: int = 30) -> None:
    _action(client, name, "restart", timeout + 30, force=force, timeout=-1 if force else timeout)


def freeze(client: Client, name: str) -> None:
    """Pause every process of the instance (the monitor's "pause" response)."""
    _action(client, name, "freeze", None)


def unfreeze(client: Client, name: str) -> None:
    _action(client, name, "unfreeze", None)


def delete(client: Client, name: str, *, force: bool = False, missing_ok: bool = False) -> None:
    """Delete an instance; with `force` a running one is killed first."""
    try:
        if force:
            _kill(client, name)
        client.sync("DELETE", _path(name), timeout=120, context=f"delete {name}")
    except NotFound:
        # An ephemeral instance deletes itself once stopped, so it may be gone by now.
        if not (missing_ok or force):
            raise


def _kill(client: Client, name: str) -> None:
    try:
        stop(client, name, force=True)
    except IncusNotFound:
        raise
    except IncusError as exc:
        if exc.status_code != 400:  # 400: it was not running, which is fine
            raise


# -- inspect ------------------------------------------------------------------------------


def get(client: Client, name: str, *, with_state: bool = False) -> Instance:
    """One instance; `with_state` adds its live state and snapshot names (in the same
    single request, at the cost of the daemon gathering them)."""
    params = {"recursion": "1"} if with_state else None
    return Instance.from_api(client.get(_path(name), params=params, context=f"instance {name}"))


def state(client: Client, name: str) -> InstanceState:
    """Status, addresses, host-side veth names, pid, memory and process count."""
    return InstanceState.from_api(client.get(f"{_path(name)}/state", context=f"state of {name}"))


def list_filter(prefix: str) -> str:
    """The daemon-side filter for names starting with `prefix` (a regular expression)."""
    return f"name eq ^{re.escape(prefix)}"


def list_instances(
    client: Client, prefix: str | None = None, *, with_state: bool = True
) -> list[Instance]:
    """Instances (whose name starts with `prefix`), with their state, in one request."""
    params = {"recursion": "2" if with_state else "1"}
    if prefix:
        params["filter"] = list_filter(prefix)
    items = client.get("/instances", params=params, context="list instances") or []
    found = [Instance.from_api(item) for item in items]
    # The filter is a regular expression on the daemon; check the plain prefix here too.
    return [i for i in found if not prefix or i.name.startswith(prefix)]


# -- configure ----------------------------------------------------------------------------


def update_config(client: Client, name: str, config: Mapping[str, str | None]) -> None:
    """Set config keys; a value of None unsets the key. Other keys stay as they are."""
    body = {"config": {k: "" if v is None else v for k, v in config.items()}}
    client.sync("PATCH", _path(name), body, context=f"configure {name}")


def add_device(client: Client, name: str, device: str, spec: Mapping[str, str]) -> None:
    """Add (or replace) one device; a running instance gets it hot-plugged."""
    body = {"devices": {device: dict(spec)}}
    client.sync("PATCH", _path(name), body, context=f"add device {device} to {name}")


def remove_device(client: Client, name: str, device: str) -> None:
    """Remove one of the instance's own devices (not one that comes from a profile).

    PATCH can only merge devices, so this is a read-modify-write guarded by the ETag:
    a concurrent change makes the daemon refuse instead of being silently overwritten.
    """
    resp = client.request("GET", _path(name), context=f"instance {name}")
    data = dict(resp.metadata)
    devices = dict(data.get("devices") or {})
    if device not in devices:
        raise IncusNotFound(f"{name} has no device {device!r} of its own")
    del devices[device]
    keys = ("architecture", "config", "ephemeral", "profiles", "stateful", "description")
    body = {k: data[k] for k in keys if k in data} | {"devices": devices}
    headers = {"If-Match": resp.headers["etag"]} if "etag" in resp.headers else {}
    client.sync("PUT", _path(name), body, headers=headers,
                context=f"remove device {device} from {name}")
