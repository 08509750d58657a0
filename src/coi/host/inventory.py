"""What the daemon already has: the default profile's devices, pools and networks.

Shared by the setup steps and by health. Existing choices win: if the profile's root disk
already points at a pool that exists, that pool is the one coi uses, whatever its name.
"""

from __future__ import annotations

from typing import Any

from coi.errors import NotFound
from coi.incus.client import Client, quote

Devices = dict[str, dict[str, str]]


def get_or_none(client: Client, path: str) -> Any:
    try:
        return client.get(path)
    except NotFound:
        return None


def profile_devices(client: Client, profile: str) -> Devices | None:
    """The profile's devices, or None if there is no such profile."""
    data = get_or_none(client, f"/profiles/{quote(profile)}")
    return None if data is None else dict(data.get("devices") or {})


def root_device(devices: Devices) -> tuple[str, dict[str, str]] | None:
    """The disk mounted at / (usually called `root`)."""
    for key, dev in devices.items():
        if dev.get("type") == "disk" and dev.get("path") == "/":
            return key, dev
    return None


def eth0_device(devices: Devices) -> tuple[str, dict[str, str]] | None:
    """The NIC that appears as eth0 in the container."""
    for key, dev in devices.items():
        if dev.get("type") == "nic" and dev.get("name", key) == "eth0":
            return key, dev
    return None


def nic_network(dev: dict[str, str]) -> str:
    return dev.get("network") or dev.get("parent", "")


def wanted_devices(devices: Devices, pool: str, network: str) -> Devices:
    """`devices` with a root disk on `pool` and eth0 on `network` (other devices kept)."""
    out = {key: dict(dev) for key, dev in devices.items()}
    root = root_device(devices)
    if root is None or root[1].get("pool") != pool:
        key = root[0] if root else "root"
        out[key] = {"type": "disk", "path": "/", "pool": pool}
    nic = eth0_device(devices)
    if nic is None or nic_network(nic[1]) != network:
        key = nic[0] if nic else "eth0"
        out[key] = {"type": "nic", "name": "eth0", "network": network}
    return out


def describe(devices: Devices) -> str:
    root, nic = root_device(devices), eth0_device(devices)
    pool = root[1].get("pool", "?") if root else "none"
    network = nic_network(nic[1]) if nic else "none"
    return f"root disk on {pool}, eth0 on {network}"


def pool_in_use(client: Client, profile: str, fallback: str) -> str:
    """The pool the profile's root disk uses if that pool exists, else `fallback`."""
    root = root_device(profile_devices(client, profile) or {})
    used = root[1].get("pool", "") if root else ""
    if used and get_or_none(client, f"/storage-pools/{quote(used)}") is not None:
        return used
    return fallback


def network_in_use(client: Client, profile: str, fallback: str) -> str:
    """The network behind the profile's eth0 if it exists, else `fallback`."""
    nic = eth0_device(profile_devices(client, profile) or {})
    used = nic_network(nic[1]) if nic else ""
    if used and get_or_none(client, f"/networks/{quote(used)}") is not None:
        return used
    return fallback
