"""Pick an IPv4 /24 for the coi bridge that collides with nothing the host already uses.

Incus's own `auto` picks a random subnet; an explicit, deterministic choice is easier to
reason about, to document and to keep out of the way of VPNs and docker networks.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from coi.errors import SetupError

Net = ipaddress.IPv4Network


def candidates() -> Iterator[Net]:
    """10.77.0.0/24 … 10.99.255.0/24 (rarely used by VPNs or clouds), then 192.168.77-254
    for hosts that route all of 10.0.0.0/8 somewhere."""
    for second in range(77, 100):
        for third in range(256):
            yield Net(f"10.{second}.{third}.0/24")
    for third in range(77, 255):
        yield Net(f"192.168.{third}.0/24")


def choose_subnet(used: Iterable[Net], pool: Iterable[Net] | None = None) -> Net:
    """The first candidate that overlaps none of `used` (SetupError if none is left)."""
    taken = list(used)
    for net in pool if pool is not None else candidates():
        if not any(net.overlaps(other) for other in taken):
            return net
    raise SetupError("network: every candidate subnet overlaps one this host uses",
                     hint="pick one yourself with `--subnet 172.30.0.0/24`")


def bridge_address(net: Net) -> str:
    """The bridge's own address in CIDR form: the first host of the subnet."""
    return f"{next(net.hosts())}/{net.prefixlen}"


def bridge_config(net: Net) -> dict[str, str]:
    return {"ipv4.address": bridge_address(net), "ipv4.nat": "true", "ipv6.address": "none"}


def routes_in(doc: Sequence[dict[str, Any]]) -> list[Net]:
    """Destinations of `ip -j route`, minus the default route (which overlaps everything)."""
    nets = []
    for route in doc:
        dst = str(route.get("dst", ""))
        if dst and dst != "default":
            nets.append(Net(dst if "/" in dst else f"{dst}/32", strict=False))
    return nets


def addresses_in(doc: Sequence[dict[str, Any]]) -> list[Net]:
    """Subnets of every IPv4 address in `ip -j addr`."""
    nets = []
    for link in doc:
        for info in link.get("addr_info", []):
            if info.get("family") == "inet" and info.get("local"):
                nets.append(Net(f"{info['local']}/{info.get('prefixlen', 32)}", strict=False))
    return nets


def incus_networks_in(networks: Sequence[dict[str, Any]]) -> list[Net]:
    """Subnets that managed Incus networks own (they may be down and so not routed)."""
    nets = []
    for network in networks:
        address = str((network.get("config") or {}).get("ipv4.address", ""))
        if "/" in address:
            nets.append(Net(address, strict=False))
    return nets


def host_networks() -> list[Net]:
    """Every IPv4 subnet routed or assigned on this host (`ip -j`); empty if `ip` fails."""
    nets: list[Net] = []
    for argv, parse in ((["ip", "-j", "-4", "route", "show", "table", "all"], routes_in),
                        (["ip", "-j", "-4", "addr"], addresses_in)):
        try:
            out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=10)
            nets += parse(json.loads(out.stdout or "[]"))
        except (OSError, subprocess.SubprocessError, ValueError):
            continue
    return nets
