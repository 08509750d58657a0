"""The address ranges a filtered container may not reach, by why they are blocked.

Three groups, so the config switches can turn two of them off:

- `ALWAYS`: addresses that are never a destination on the internet (this network,
  loopback, multicast, reserved, broadcast, IPv4-mapped IPv6). Not configurable.
- `PRIVATE`: RFC 1918, carrier-grade NAT (100.64/10), IPv6 unique-local (fc00::/7) and
  the NAT64 forms of those IPv4 ranges (a NAT64 gateway would translate them back).
  Blocked unless `block_private_networks = false` or `allow_local_network_access = true`.
- `LINK_LOCAL`: 169.254/16 with the cloud metadata endpoint 169.254.169.254, IPv6
  link-local fe80::/10, and AWS's IPv6 metadata address fd00:ec2::254 (listed on its own
  so it stays blocked when unique-local addresses are allowed). Blocked unless
  `block_metadata_endpoint = false`.

The host itself is not here: everything addressed to one of the host's own addresses
goes through the input hook, where coi's rules refuse it whatever the address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

NAT64_PREFIX = ipaddress.IPv6Network("64:ff9b::/96")


def nets(*texts: str) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(t) for t in texts)


def nat64(net: ipaddress.IPv4Network) -> ipaddress.IPv6Network:
    """The RFC 6052 well-known-prefix form of an IPv4 range (64:ff9b::10.0.0.0/104)."""
    base = int(NAT64_PREFIX.network_address) + int(net.network_address)
    return ipaddress.IPv6Network((base, 96 + net.prefixlen))


_PRIVATE4 = nets("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")
_LINK_LOCAL4 = nets("169.254.0.0/16")
_ALWAYS4 = nets("0.0.0.0/8", "127.0.0.0/8", "224.0.0.0/4", "240.0.0.0/4")

ALWAYS: tuple[IPNetwork, ...] = (
    *_ALWAYS4,
    *nets("::/128", "::1/128", "::ffff:0:0/96", "ff00::/8"),
    *(nat64(n) for n in _ALWAYS4 if isinstance(n, ipaddress.IPv4Network)),
)
PRIVATE: tuple[IPNetwork, ...] = (
    *_PRIVATE4,
    *nets("fc00::/7", "64:ff9b:1::/48"),
    *(nat64(n) for n in _PRIVATE4 if isinstance(n, ipaddress.IPv4Network)),
)
LINK_LOCAL: tuple[IPNetwork, ...] = (
    *_LINK_LOCAL4,
    *nets("fe80::/10", "fd00:ec2::254/128"),
    *(nat64(n) for n in _LINK_LOCAL4 if isinstance(n, ipaddress.IPv4Network)),
)

METADATA_ADDRESSES = ("169.254.169.254", "fd00:ec2::254")


def blocked(block_private: bool, block_link_local: bool,
            extra: Iterable[IPNetwork] = ()) -> tuple[IPNetwork, ...]:
    """Every range a filtered container may not reach under these switches."""
    groups: list[IPNetwork] = [*ALWAYS, *extra]
    if block_private:
        groups += PRIVATE
    if block_link_local:
        groups += LINK_LOCAL
    return tuple(groups)


def contains(ranges: Sequence[IPNetwork], address: IPAddress) -> bool:
    return any(address.version == net.version and address in net for net in ranges)


def split(ranges: Iterable[IPNetwork]) -> tuple[list[str], list[str]]:
    """IPv4 and IPv6 ranges as nft set elements: sorted, with overlapping and adjacent
    ranges merged (nft refuses some overlaps in one set, and fewer elements match faster)."""
    items = list(ranges)
    v4 = [n for n in items if isinstance(n, ipaddress.IPv4Network)]
    v6 = [n for n in items if isinstance(n, ipaddress.IPv6Network)]
    return ([element(n) for n in ipaddress.collapse_addresses(v4)],
            [element(n) for n in ipaddress.collapse_addresses(v6)])


def element(net: IPNetwork) -> str:
    """A single address without its /32 or /128, as nft prints it back."""
    if net.prefixlen == net.max_prefixlen:
        return str(net.network_address)
    return str(net)
