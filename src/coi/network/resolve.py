"""Allowlist (and proxy) hostnames resolved on the host, into what the rules let through.

The host resolves, not the container: the container's own DNS is blocked in allowlist
mode, and coi writes these same addresses into its /etc/hosts. Lookups run in parallel
with one deadline. A name that fails keeps the addresses it had at the last resolution
(a DNS hiccup must not cut a running session off its API); one never resolved is
reported. Addresses a hostname resolves to inside a blocked range (private, link-local,
reserved, the bridge) are dropped and reported: a DNS answer must not open the LAN.
Literal IPs and CIDRs in the allowlist are taken as written, private ones included.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from coi.network.policy import Destination, NetworkPolicy
from coi.network.ranges import IPNetwork, blocked, contains

Lookup = Callable[[str], Sequence[str]]
TIMEOUT = 5.0


@dataclass(frozen=True)
class Allowed:
    network: IPNetwork
    ports: tuple[int, ...] = ()  # empty: every port (and every protocol)


@dataclass(frozen=True)
class Resolved:
    allowed: tuple[Allowed, ...] = ()
    proxy: tuple[Allowed, ...] = ()
    names: dict[str, tuple[str, ...]] = field(default_factory=dict)  # hostname -> addresses
    unresolved: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()

    @property
    def warnings(self) -> tuple[str, ...]:
        return (*(f"could not resolve {n}" for n in self.unresolved), *self.skipped)


def system_lookup(host: str) -> list[str]:
    infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def lookup_all(hosts: Sequence[str], lookup: Lookup = system_lookup,
               timeout: float = TIMEOUT) -> dict[str, tuple[str, ...]]:
    """Every host's addresses, looked up in parallel; hosts that fail or are not done by
    the deadline are missing from the answer. Daemon threads: a hung lookup cannot keep
    coi alive."""
    found: dict[str, tuple[str, ...]] = {}

    def one(host: str) -> None:
        with contextlib.suppress(OSError, UnicodeError):
            found[host] = tuple(lookup(host))

    threads = [threading.Thread(target=one, args=(h,), daemon=True) for h in hosts]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return {h: found[h] for h in hosts if found.get(h)}


def resolve(policy: NetworkPolicy, bridge: Sequence[IPNetwork] = (),
            previous: Resolved | None = None, lookup: Lookup = system_lookup,
            timeout: float = TIMEOUT) -> Resolved:
    """What the policy's destinations mean now. `bridge` are the container network's own
    subnets (never reachable through a hostname either)."""
    answers = lookup_all(policy.hostnames, lookup, timeout)
    old = previous.names if previous else {}
    names = {h: answers.get(h) or old.get(h, ()) for h in policy.hostnames}
    refused = blocked(policy.block_private, policy.block_link_local, bridge)
    skipped: list[str] = []
    allowed = _expand(policy.allowlist, names, refused, skipped) if policy.mode == "allowlist" \
        else ()
    proxy = _expand((policy.proxy,), names, (), skipped) if policy.proxy else ()
    return Resolved(
        allowed=allowed, proxy=proxy, names={h: a for h, a in names.items() if a},
        unresolved=tuple(h for h, a in names.items() if not a), skipped=tuple(skipped),
    )


def _expand(destinations: Sequence[Destination], names: dict[str, tuple[str, ...]],
            refused: Sequence[IPNetwork], skipped: list[str]) -> tuple[Allowed, ...]:
    out: dict[Allowed, None] = {}
    for dest in destinations:
        if dest.network is not None:
            out[Allowed(dest.network, dest.ports)] = None
            continue
        for text in names.get(dest.host or "", ()):
            address = ipaddress.ip_address(text)
            if contains(refused, address):
                skipped.append(f"{dest.host} resolves to {text}, a blocked address; "
                               "list the address itself to allow it")
                continue
            out[Allowed(ipaddress.ip_network(address), dest.ports)] = None
    return tuple(out)
