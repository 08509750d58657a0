"""Network findings from the packets coi's nft rules log (see `nflog`): pure.

The rule's reason (the last part of its `coi:<container>:<reason>` prefix) says what
happened; the destination refines it:

| reason | finding |
|---|---|
| any, to a metadata endpoint (169.254.169.254, …) | CRITICAL "Metadata endpoint access" |
| `private`, `reserved`, `link-local`, `host` (refused) | WARNING (multicast, broadcast: none) |
| `not-allowed` (allowlist violation, refused) | WARNING |
| `suspicious-port` (new connection to 4444, 31337, …) | HIGH |
| `conn` (a new connection that was let through) | INFO |
| `dns` | none: counted by `DnsRate`, WARNING "DNS query rate" over the threshold |

Every finding's detector is `network` and its key `<dst>:<dport>` (`[v6]:port`), so the
supervisor's Deduper reports one destination once per window, a worse severity always.
"""

from __future__ import annotations

from collections import deque

from coi.monitor.findings import Finding, Severity
from coi.monitor.nflog import NetEvent

DETECTOR = "network"
METADATA = frozenset({
    "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean, ...
    "fd00:ec2::254",  # AWS over IPv6
    "64:ff9b::a9fe:a9fe",  # 169.254.169.254 through NAT64
    "100.100.100.200",  # Alibaba Cloud
    "169.254.170.2",  # AWS ECS task credentials
})
REFUSED = {
    "private": "Connection to a private network",
    "reserved": "Connection to a reserved address",
    "link-local": "Connection to a link-local address",
    "host": "Connection to the host",
    "not-allowed": "Connection outside the allowlist",
}
SUSPICIOUS = "suspicious-port"
CONN = "conn"
DNS = "dns"
WINDOW = 60.0  # seconds


def evidence(event: NetEvent) -> dict[str, object]:
    return {"reason": event.reason, "proto": event.proto, "src": event.src,
            "sport": event.sport, "dst": event.dst, "dport": event.dport,
            "family": event.family, "refused": event.reason in REFUSED}


def key(event: NetEvent) -> str:
    host = f"[{event.dst}]" if event.family == 6 else event.dst
    return host if event.dport is None else f"{host}:{event.dport}"


def _multicast(address: str, family: int) -> bool:
    if family == 6:
        return address.lower().startswith("ff")
    first = address.split(".", 1)[0]
    return address == "255.255.255.255" or (first.isdigit() and 224 <= int(first) <= 239)


def classify(event: NetEvent) -> Finding | None:
    """The finding one logged packet makes (None: nothing to report, e.g. DNS)."""
    reason = event.reason
    if reason == DNS or not reason:
        return None
    if event.dst in METADATA:
        return Finding(Severity.CRITICAL, DETECTOR, "Metadata endpoint access",
                       evidence(event), key(event))
    if reason in REFUSED:
        if reason != "not-allowed" and _multicast(event.dst, event.family):
            return None  # LLMNR, IGMP, mDNS: what every system sends as it boots
        return Finding(Severity.WARNING, DETECTOR, REFUSED[reason], evidence(event),
                       key(event))
    if reason == SUSPICIOUS:
        return Finding(Severity.HIGH, DETECTOR, "Connection to a suspicious port",
                       evidence(event), key(event))
    if reason == CONN:
        return Finding(Severity.INFO, DETECTOR, "Connection", evidence(event), key(event))
    return None


class DnsRate:
    """DNS queries per minute: `update(now)` for each query seen; a WARNING once the
    last 60 s hold more than `threshold_per_minute`, at most once per 60 s."""

    def __init__(self, threshold_per_minute: int, window_s: float = WINDOW) -> None:
        self.threshold = threshold_per_minute
        self.window_s = window_s
        self._times: deque[float] = deque()
        self._alerted: float | None = None

    def update(self, now: float, queries: int = 1) -> Finding | None:
        times = self._times
        times.extend([now] * queries)
        cutoff = now - self.window_s
        while times and times[0] <= cutoff:
            times.popleft()
        if len(times) <= self.threshold:
            return None
        if self._alerted is not None and now - self._alerted < self.window_s:
            return None
        self._alerted = now
        return Finding(Severity.WARNING, DETECTOR, "DNS query rate",
                       {"queries": len(times), "window_s": self.window_s,
                        "threshold_per_minute": self.threshold}, key="dns-rate")
