"""The container's NIC as coi sets it up, and the bridge it is plugged into.

Why rules key on the MAC address: on this kernel (and any without br_netfilter's
physdev view in nftables) traffic from a bridged container reaches the `inet` forward
and input hooks with `iifname` = the bridge (`incusbr0`), never the container's veth.
Its source MAC is still there, so coi gives each container a MAC derived from its name,
set in the create request, and keys the rules on it, which lets them be installed before
the container exists. `security.mac_filtering` makes Incus drop (at the bridge) frames
from the veth with any other source MAC, so a container cannot shed its rules by
changing its address; `verify` refuses a NIC without it.

All coi MACs share the prefix `0e:c0` (locally administered, unicast), so the table can
refuse every coi container that has no rules of its own (fail closed).

The other NIC options: `security.port_isolation` stops container-to-container traffic
on the bridge (the gateway stays reachable); `security.ipv4_filtering` and
`security.ipv6_filtering` stop address spoofing, and on a bridge without IPv6 the latter
drops every IPv6 frame from the container, link-local included.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass

from coi.errors import PolicyError
from coi.incus.client import Client, quote
from coi.network.ranges import IPAddress, IPNetwork

MAC_PREFIX = "0e:c0"
MAC_RANGE = (f"{MAC_PREFIX}:00:00:00:00", f"{MAC_PREFIX}:ff:ff:ff:ff")
VETH_PREFIX = "coi"
IFNAME_MAX = 15
NIC_SECURITY = {
    "security.port_isolation": "true",
    "security.mac_filtering": "true",
    "security.ipv4_filtering": "true",
    "security.ipv6_filtering": "true",
}


def _digest(container: str, project: str) -> bytes:
    return hashlib.sha256(f"{project}/{container}".encode()).digest()


def mac_address(container: str, project: str = "default") -> str:
    """The container's MAC: the coi prefix and 32 bits of a hash of its name."""
    tail = _digest(container, project)[:4]
    return ":".join([MAC_PREFIX, *(f"{b:02x}" for b in tail)])


def veth_name(container: str, project: str = "default") -> str:
    """The host-side interface name (15 characters, the kernel's limit): "coi" and 48
    bits of the same hash, so `ip link` and traffic counters name the container."""
    name = VETH_PREFIX + _digest(container, project)[:6].hex()
    assert len(name) <= IFNAME_MAX
    return name


def nic_overrides(container: str, project: str = "default") -> dict[str, str]:
    """What coi sets on the container's NIC, whatever the network mode."""
    return {"hwaddr": mac_address(container, project),
            "host_name": veth_name(container, project), **NIC_SECURITY}


def nic_device(base: Mapping[str, str], container: str,
               project: str = "default") -> dict[str, str]:
    """The full NIC device for the create request: the profile's NIC (an instance device
    replaces a profile device of the same name whole) with coi's options on top."""
    return {**base, **nic_overrides(container, project)}


def find_nic(devices: Mapping[str, Mapping[str, str]]) -> tuple[str, dict[str, str]]:
    """The (first, by name) NIC device and its config; PolicyError if there is none."""
    for name in sorted(devices):
        if devices[name].get("type") == "nic":
            return name, dict(devices[name])
    raise PolicyError("the container has no network device to apply the network policy to",
                      hint="give the profile a NIC (`coi setup` does)")


@dataclass(frozen=True)
class Bridge:
    """The network a container's NIC is on: its gateway addresses and subnets."""

    name: str
    gateways: tuple[IPAddress, ...]
    subnets: tuple[IPNetwork, ...]

    @classmethod
    def from_config(cls, name: str, config: Mapping[str, str]) -> Bridge:
        gateways: list[IPAddress] = []
        subnets: list[IPNetwork] = []
        for key in ("ipv4.address", "ipv6.address"):
            value = config.get(key, "")
            if value and value != "none":
                iface = ipaddress.ip_interface(value)
                gateways.append(iface.ip)
                subnets.append(iface.network)
        return cls(name, tuple(gateways), tuple(subnets))

    @property
    def gateway4(self) -> tuple[str, ...]:
        return tuple(str(g) for g in self.gateways if g.version == 4)

    @property
    def gateway6(self) -> tuple[str, ...]:
        return tuple(str(g) for g in self.gateways if g.version == 6)


def bridge(client: Client, network: str) -> Bridge:
    """The managed network `network` (the NIC's `network` key, or `parent`)."""
    data = client.get(f"/networks/{quote(network)}", context=f"network {network}")
    found = Bridge.from_config(network, data.get("config") or {})
    if not found.gateway4:
        raise PolicyError(f"network {network} has no IPv4 gateway address coi can key "
                          "its rules on", hint="use a managed bridge (`coi setup` makes one)")
    return found


@dataclass(frozen=True)
class Target:
    """What the rules for one container are about."""

    container: str
    mac: str
    bridge: Bridge

    @classmethod
    def for_container(cls, container: str, bridge: Bridge,
                      project: str = "default") -> Target:
        return cls(container, mac_address(container, project), bridge)
