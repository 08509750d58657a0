"""A session's network policy: the mode, what allowlist mode lets through, the proxy.

Built from the `[network]` config section plus the chosen tool's API domains (the tool
adapters supply those; allowlist mode needs them or the tool cannot reach its API).
Allowlist entries are a hostname, an IP address or a CIDR, optionally with `:port`
(IPv6 literals in brackets: `[2001:db8::1]:443`). Wildcards are refused: they cannot be
resolved to addresses on the host.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from coi.config.model import Monitoring, Network
from coi.errors import ConfigError
from coi.network.ranges import IPNetwork

Mode = Literal["restricted", "allowlist", "open"]
MODES: tuple[Mode, ...] = ("restricted", "allowlist", "open")

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"(?:{_LABEL}\.)*{_LABEL}\.?")
_PROXY_PORTS = {"http": 80, "https": 443, "socks5": 1080, "socks5h": 1080}


@dataclass(frozen=True)
class Destination:
    """One allowlist entry: a hostname (resolved on the host) or a network, and the
    ports it is allowed on (empty: every port)."""

    text: str
    host: str | None = None
    network: IPNetwork | None = None
    ports: tuple[int, ...] = ()


@dataclass(frozen=True)
class LogSpec:
    """What the rules log to nflog `group` for the monitor, each log rule at most `rate`
    packets a second: refusals, new connections, suspicious destination ports and (with
    `dns`) DNS queries. `group` None: `firewall.apply` picks one no other container's
    rules use (keeping the container's own on a re-apply)."""

    group: int | None = None
    rate: int = 100
    dns: bool = True

    @classmethod
    def from_config(cls, monitoring: Monitoring) -> LogSpec | None:
        """None unless `[monitoring] enabled` and `[monitoring.nft] enabled`."""
        nft = monitoring.nft
        if not (monitoring.enabled and nft.enabled):
            return None
        return cls(rate=nft.rate_limit_per_second, dns=nft.log_dns_queries)


def _port(text: str, entry: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ConfigError(f"allowlist entry {entry!r}: {text!r} is not a port (1-65535)")
    return int(text)


def _split_port(entry: str) -> tuple[str, tuple[int, ...]]:
    if entry.startswith("["):
        addr, sep, rest = entry[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ConfigError(f"allowlist entry {entry!r}: expected [IPv6]:port")
        return addr, (_port(rest[1:], entry),) if rest else ()
    if entry.count(":") == 1:
        addr, _, port = entry.partition(":")
        return addr, (_port(port, entry),)
    return entry, ()


def parse_destination(entry: str) -> Destination:
    """Parse one allowlist entry; ConfigError names the entry when it is not one."""
    text = entry.strip()
    if not text or "*" in text or "://" in text or any(c.isspace() for c in text):
        raise ConfigError(f"allowlist entry {entry!r}: expected a hostname, IP address or "
                          "CIDR, optionally with :port (no wildcards, no scheme)")
    addr, ports = _split_port(text)
    try:
        return Destination(text, network=ipaddress.ip_network(addr, strict=False), ports=ports)
    except ValueError:
        pass
    if "/" in addr or _HOSTNAME.fullmatch(addr) is None or addr.replace(".", "").isdigit():
        raise ConfigError(f"allowlist entry {entry!r}: {addr!r} is not a hostname, IP "
                          "address or CIDR (no wildcards)")
    return Destination(text, host=addr.rstrip(".").lower(), ports=ports)


def parse_proxy(url: str) -> Destination | None:
    """The host and port of `network.proxy` ("" means no proxy)."""
    if not url:
        return None
    parts = urlsplit(url)
    try:
        port = parts.port or _PROXY_PORTS.get(parts.scheme)
    except ValueError:
        port = None
    if not parts.hostname or port is None:
        raise ConfigError(f"network.proxy {url!r}: expected a URL like http://proxy:3128")
    host = parts.hostname
    return parse_destination(f"[{host}]:{port}" if ":" in host else f"{host}:{port}")


@dataclass(frozen=True)
class NetworkPolicy:
    mode: Mode = "restricted"
    allowlist: tuple[Destination, ...] = ()
    refresh_interval_minutes: int = 30
    block_private: bool = True
    block_link_local: bool = True
    proxy: Destination | None = None
    log: LogSpec | None = None

    @classmethod
    def from_config(cls, network: Network, tool_domains: Iterable[str] = (),
                    mode: Mode | None = None, log: LogSpec | None = None) -> NetworkPolicy:
        """`mode` overrides the config's (a `--network` flag); `tool_domains` join the
        allowlist (duplicates dropped, order kept)."""
        entries = dict.fromkeys([*network.allowlist, *tool_domains])
        return cls(
            mode=mode or network.mode,
            allowlist=tuple(parse_destination(e) for e in entries),
            refresh_interval_minutes=network.refresh_interval_minutes,
            block_private=network.block_private_networks
            and not network.allow_local_network_access,
            block_link_local=network.block_metadata_endpoint,
            proxy=parse_proxy(network.proxy),
            log=log,
        )

    @property
    def filtered(self) -> bool:
        """Whether coi's rules limit where the container may connect (not open mode)."""
        return self.mode != "open"

    @property
    def refresh_seconds(self) -> float:
        """How often allowlist mode re-resolves its hostnames (the supervisor's period)."""
        return self.refresh_interval_minutes * 60.0

    @property
    def hostnames(self) -> tuple[str, ...]:
        """The names coi resolves on the host: the allowlist's (in allowlist mode) and
        the proxy's."""
        names = [d.host for d in self.allowlist if d.host] if self.mode == "allowlist" else []
        if self.proxy and self.proxy.host:
            names.append(self.proxy.host)
        return tuple(dict.fromkeys(names))
