"""nfnetlink_log: the packets coi's nftables rules log (`log prefix "coi:<c>:<reason> "
group G`), read from a netlink socket bound to group G.

`NflogSocket(group)` binds the group (one listener per group and network namespace:
EBUSY means another process owns it), asks for the first `COPY_RANGE` bytes of each
packet (enough for the IPv4/IPv6 and TCP/UDP headers) and is non-blocking: register
`fileno()` with a selector and call `read_events()` when it is readable. Events are
parsed into `NetEvent`s (prefix, addresses, protocol, ports); packets are not kept.
Binding needs CAP_NET_ADMIN (root). Failures raise KernelSourceError (a CoiError).
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import struct
from dataclasses import dataclass

from coi.monitor import netlink
from coi.monitor.netlink import KernelSourceError

NFNL_SUBSYS_ULOG = 4
NFULNL_MSG_PACKET, NFULNL_MSG_CONFIG = 0, 1
NFULA_CFG_CMD, NFULA_CFG_MODE, NFULA_CFG_NLBUFSIZ, NFULA_CFG_TIMEOUT = 1, 2, 3, 4
NFULA_CFG_QTHRESH = 5
NFULNL_CFG_CMD_BIND, NFULNL_CFG_CMD_UNBIND = 1, 2
NFULNL_COPY_PACKET = 2
NFULA_PAYLOAD, NFULA_PREFIX = 9, 10

COPY_RANGE = 128  # bytes of each packet: IPv6 (40) + extension headers + TCP ports
RCVBUF = 1 << 20
PREFIX_MARK = "coi:"

PROTOCOLS = {1: "icmp", 2: "igmp", 6: "tcp", 17: "udp", 58: "icmpv6", 132: "sctp",
             136: "udplite"}
PORTED = {6, 17, 132, 136}
IPV6_EXTENSIONS = {0, 43, 60, 135}  # hop-by-hop, routing, destination options, mobility
IPV6_FRAGMENT = 44


@dataclass(frozen=True)
class NetEvent:
    """One logged packet. `prefix` is the rule's log prefix without trailing blanks."""

    prefix: str
    family: int  # 4 or 6
    proto: str  # "tcp", "udp", "icmp", "icmpv6", or the protocol number as text
    src: str
    dst: str
    sport: int | None = None
    dport: int | None = None

    @property
    def container(self) -> str:
        """`<container>` of a `coi:<container>:<reason>` prefix ("" for another one)."""
        parts = self.prefix.split(":")
        return parts[1] if len(parts) == 3 and parts[0] == "coi" else ""

    @property
    def reason(self) -> str:
        """`<reason>` of a `coi:<container>:<reason>` prefix ("" for another one)."""
        parts = self.prefix.split(":")
        return parts[2] if len(parts) == 3 and parts[0] == "coi" else ""


class NflogSocket:
    """A listener on one nflog group. Raises KernelSourceError when the group cannot be
    bound (another listener owns it, not root, no nfnetlink_log)."""

    def __init__(self, group: int, *, copy_range: int = COPY_RANGE) -> None:
        if not 0 <= group <= 0xFFFF:
            raise ValueError(f"nflog group {group} out of range (0-65535)")
        self.group = group
        self.lost = 0  # times the kernel dropped events because we were too slow
        try:
            self._sock = netlink.open_socket(netlink.NETLINK_NETFILTER, rcvbuf=RCVBUF)
        except OSError as exc:
            raise KernelSourceError(f"cannot open a netfilter netlink socket: {exc}") from None
        try:
            self._config(netlink.nlattr(NFULA_CFG_CMD, bytes([NFULNL_CFG_CMD_BIND])))
            self._config(
                netlink.nlattr(NFULA_CFG_MODE, struct.pack(">IBB", copy_range,
                                                           NFULNL_COPY_PACKET, 0))
                + netlink.nlattr(NFULA_CFG_QTHRESH, struct.pack(">I", 1))
                + netlink.nlattr(NFULA_CFG_TIMEOUT, struct.pack(">I", 1)))
        except OSError as exc:
            self._sock.close()
            raise KernelSourceError(_bind_message(group, exc)) from None

    def _config(self, attrs: bytes) -> None:
        msg_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG
        payload = netlink.nfgen(socket.AF_UNSPEC, self.group) + attrs
        netlink.request(self._sock, netlink.nlmsg(
            msg_type, netlink.NLM_F_REQUEST | netlink.NLM_F_ACK, payload))

    def fileno(self) -> int:
        return self._sock.fileno()

    def read_events(self) -> list[NetEvent]:
        """Every event queued now (never blocks). A receive-buffer overflow is counted
        in `lost`; reading goes on with what comes after."""
        events: list[NetEvent] = []
        for data in netlink.datagrams(self._sock):
            if data is None:
                self.lost += 1
            else:
                events += parse_datagram(data)
        return events

    def close(self) -> None:
        sock = self._sock
        if sock.fileno() < 0:
            return
        with contextlib.suppress(OSError):  # released when the socket closes anyway
            self._config(netlink.nlattr(NFULA_CFG_CMD, bytes([NFULNL_CFG_CMD_UNBIND])))
        sock.close()

    def __enter__(self) -> NflogSocket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _bind_message(group: int, exc: OSError) -> str:
    # The kernel answers EPERM both without CAP_NET_ADMIN and when another socket owns
    # the group (EBUSY on older kernels): as root only the second is possible.
    taken = exc.errno == errno.EBUSY or (exc.errno == errno.EPERM and os.geteuid() == 0)
    if taken:
        return (f"nflog group {group} is taken by another listener (another supervisor, "
                "ulogd or a packet capture): network events of this session are not read")
    if exc.errno == errno.EPERM:
        return (f"binding nflog group {group} needs root (CAP_NET_ADMIN): network events "
                "are not read")
    return f"cannot bind nflog group {group}: {exc.strerror or exc}"


def parse_datagram(data: bytes) -> list[NetEvent]:
    """The NetEvents in one datagram from an nflog socket (errors raise OSError)."""
    events = []
    packet_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET
    for msg_type, _flags, payload in netlink.messages(data):
        if msg_type != packet_type:
            continue
        event = parse_packet(payload)
        if event is not None:
            events.append(event)
    return events


def parse_packet(payload: memoryview | bytes) -> NetEvent | None:
    """One NFULNL_MSG_PACKET payload (nfgenmsg + attributes) as a NetEvent; None if it
    carries no IP header."""
    attrs = netlink.attr_map(payload, netlink.NFGENMSG.size)
    packet = attrs.get(NFULA_PAYLOAD)
    if packet is None:
        return None
    prefix = netlink.cstring(attrs[NFULA_PREFIX]).strip() if NFULA_PREFIX in attrs else ""
    return parse_ip(prefix, bytes(packet))


def parse_ip(prefix: str, packet: bytes) -> NetEvent | None:
    """Addresses, protocol and ports from an IPv4 or IPv6 packet (headers only)."""
    if not packet:
        return None
    version = packet[0] >> 4
    if version == 4 and len(packet) >= 20:
        header = (packet[0] & 0x0F) * 4
        proto = packet[9]
        fragment = struct.unpack_from(">H", packet, 6)[0] & 0x1FFF
        src = socket.inet_ntop(socket.AF_INET, packet[12:16])
        dst = socket.inet_ntop(socket.AF_INET, packet[16:20])
        l4 = header if fragment == 0 else -1
    elif version == 6 and len(packet) >= 40:
        src = socket.inet_ntop(socket.AF_INET6, packet[8:24])
        dst = socket.inet_ntop(socket.AF_INET6, packet[24:40])
        proto, l4 = _ipv6_upper(packet)
    else:
        return None
    sport = dport = None
    if proto in PORTED and l4 >= 0 and l4 + 4 <= len(packet):
        sport, dport = struct.unpack_from(">HH", packet, l4)
    return NetEvent(prefix, version, PROTOCOLS.get(proto, str(proto)), src, dst, sport, dport)


def _ipv6_upper(packet: bytes) -> tuple[int, int]:
    """The upper-layer protocol and its offset (-1 when not at hand: a later fragment,
    or headers beyond what was copied)."""
    proto, offset = packet[6], 40
    for _ in range(8):
        if proto in IPV6_EXTENSIONS and offset + 2 <= len(packet):
            proto, offset = packet[offset], offset + (packet[offset + 1] + 1) * 8
        elif proto == IPV6_FRAGMENT and offset + 8 <= len(packet):
            first = struct.unpack_from(">H", packet, offset + 2)[0] & 0xFFF8 == 0
            proto, offset = packet[offset], (offset + 8 if first else -1)
            if offset < 0:
                return proto, -1
        else:
            break
    return proto, offset
