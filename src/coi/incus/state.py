"""An instance's live state (GET /1.0/instances/NAME/state) as small typed values."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Address:
    family: str  # "inet" or "inet6"
    address: str
    netmask: str
    scope: str  # "global", "link" or "local"


@dataclass(frozen=True)
class NetworkInterface:
    """One NIC as seen from inside, with `host_name`: its veth on the host side (the
    name nftables rules and traffic counters on the host refer to)."""

    name: str
    host_name: str
    hwaddr: str
    state: str
    mtu: int
    addresses: tuple[Address, ...]
    bytes_received: int = 0
    bytes_sent: int = 0

    @property
    def ipv4(self) -> list[str]:
        return [a.address for a in self.addresses if a.family == "inet" and a.scope == "global"]

    @property
    def ipv6(self) -> list[str]:
        return [a.address for a in self.addresses if a.family == "inet6" and a.scope == "global"]

    @classmethod
    def from_api(cls, name: str, data: Mapping[str, Any]) -> NetworkInterface:
        counters = data.get("counters") or {}
        return cls(
            name=name,
            host_name=str(data.get("host_name") or ""),
            hwaddr=str(data.get("hwaddr") or ""),
            state=str(data.get("state") or ""),
            mtu=int(data.get("mtu") or 0),
            addresses=tuple(
                Address(str(a.get("family", "")), str(a.get("address", "")),
                        str(a.get("netmask", "")), str(a.get("scope", "")))
                for a in data.get("addresses") or ()
            ),
            bytes_received=int(counters.get("bytes_received") or 0),
            bytes_sent=int(counters.get("bytes_sent") or 0),
        )


@dataclass(frozen=True)
class InstanceState:
    status: str  # "Running", "Stopped", "Frozen", ...
    pid: int  # init's pid on the host; 0 when stopped
    processes: int
    memory_usage: int  # bytes
    memory_peak: int
    cpu_usage_ns: int
    network: dict[str, NetworkInterface]
    started_at: str = ""

    @property
    def running(self) -> bool:
        return self.status == "Running"

    @property
    def own_nics(self) -> list[NetworkInterface]:
        """The NICs Incus attached from the host (they have a host-side name); bridges
        made inside the container, such as Docker's docker0, are not the container's
        address. All NICs when none has a host-side name (e.g. a remote daemon's view)."""
        attached = [nic for nic in self.network.values() if nic.host_name]
        return attached or list(self.network.values())

    @property
    def ipv4(self) -> list[str]:
        """Global IPv4 addresses of the container's own NICs (empty until DHCP answered)."""
        return [ip for nic in self.own_nics for ip in nic.ipv4]

    @property
    def ipv6(self) -> list[str]:
        return [ip for nic in self.own_nics for ip in nic.ipv6]

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> InstanceState:
        memory = data.get("memory") or {}
        return cls(
            status=str(data.get("status", "")),
            pid=int(data.get("pid") or 0),
            processes=int(data.get("processes") or 0),
            memory_usage=int(memory.get("usage") or 0),
            memory_peak=int(memory.get("usage_peak") or 0),
            cpu_usage_ns=int((data.get("cpu") or {}).get("usage") or 0),
            network={
                name: NetworkInterface.from_api(name, nic)
                for name, nic in (data.get("network") or {}).items()
            },
            started_at=str(data.get("started_at") or ""),
        )
