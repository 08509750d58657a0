"""nfnetlink_log parsing: datagrams built here in the kernel's layout."""

from __future__ import annotations

import socket
import struct

import pytest

from coi.monitor import netlink, nflog
from coi.monitor.nflog import NetEvent, parse_datagram, parse_ip

PACKET = (nflog.NFNL_SUBSYS_ULOG << 8) | nflog.NFULNL_MSG_PACKET


def ipv4(src: str, dst: str, proto: int, l4: bytes, frag: int = 0) -> bytes:
    header = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 1, frag, 64, proto, 0,
                         socket.inet_aton(src), socket.inet_aton(dst))
    return header + l4


def ipv6(src: str, dst: str, nxt: int, rest: bytes) -> bytes:
    return (struct.pack(">IHBB", 6 << 28, len(rest), nxt, 64)
            + socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst)
            + rest)


def ports(sport: int, dport: int) -> bytes:
    return struct.pack(">HH", sport, dport) + b"\0" * 16


def packet_msg(prefix: str, packet: bytes, family: int = socket.AF_INET) -> bytes:
    attrs = (netlink.nlattr(1, struct.pack(">HBB", 0x0800, 2, 0))
             + netlink.nlattr(nflog.NFULA_PREFIX, prefix.encode() + b"\0")
             + netlink.nlattr(nflog.NFULA_PAYLOAD, packet))
    return netlink.nlmsg(PACKET, 0, netlink.nfgen(family) + attrs)


def test_ipv4_tcp() -> None:
    data = packet_msg("coi:c1:private ", ipv4("10.0.3.5", "192.168.1.9", 6, ports(40000, 22)))
    assert parse_datagram(data) == [
        NetEvent("coi:c1:private", 4, "tcp", "10.0.3.5", "192.168.1.9", 40000, 22)]


def test_several_messages_in_one_datagram() -> None:
    one = packet_msg("coi:a:dns ", ipv4("10.0.0.2", "10.0.0.1", 17, ports(5000, 53)))
    two = packet_msg("coi:a:conn ", ipv4("10.0.0.2", "1.1.1.1", 1, b"\x08\0\0\0"))
    events = parse_datagram(one + two)
    assert [(e.reason, e.proto, e.dport) for e in events] == [("dns", "udp", 53),
                                                               ("conn", "icmp", None)]
    assert events[0].container == "a"


def test_ipv6_with_extension_header() -> None:
    hop_by_hop = bytes([6, 0]) + b"\0" * 6  # next header tcp, length 0 (8 bytes)
    pkt = ipv6("fd42::5", "fd00:ec2::254", 0, hop_by_hop + ports(1234, 80))
    event = parse_ip("coi:x:link-local", pkt)
    assert event == NetEvent("coi:x:link-local", 6, "tcp", "fd42::5", "fd00:ec2::254",
                             1234, 80)


def test_later_fragments_have_no_ports() -> None:
    event = parse_ip("p", ipv4("10.0.0.2", "8.8.8.8", 17, b"\0" * 8, frag=100))
    assert event is not None and event.dport is None and event.proto == "udp"
    frag = struct.pack(">BBHI", 17, 0, 100 << 3, 7)
    event6 = parse_ip("p", ipv6("2001:db8::1", "2001:db8::2", 44, frag + b"\0" * 8))
    assert event6 is not None and event6.proto == "udp" and event6.dport is None


def test_truncated_and_foreign_input() -> None:
    assert parse_ip("p", b"") is None
    assert parse_ip("p", b"\x45\0\0") is None
    assert parse_ip("p", b"\x60" + b"\0" * 10) is None
    truncated = ipv4("10.0.0.2", "8.8.8.8", 6, b"\x01")
    event = parse_ip("p", truncated)
    assert event is not None and event.sport is None
    assert parse_datagram(b"\x01\x02") == []
    assert NetEvent("other prefix", 4, "tcp", "a", "b").reason == ""


def test_error_message_raises_with_errno() -> None:
    err = netlink.nlmsg(netlink.NLMSG_ERROR, 0, struct.pack("=i", -1) + b"\0" * 16)
    with pytest.raises(OSError) as info:
        list(netlink.messages(err))
    assert info.value.errno == 1
    ack = netlink.nlmsg(netlink.NLMSG_ERROR, 0, struct.pack("=i", 0) + b"\0" * 16)
    assert list(netlink.messages(ack)) == []


def test_attributes_strip_flags_and_align() -> None:
    data = netlink.nlattr(3 | netlink.NLA_F_NESTED, b"abc") + netlink.nlattr(4, b"12345")
    assert [(t, bytes(v)) for t, v in netlink.attributes(data)] == [(3, b"abc"),
                                                                      (4, b"12345")]
    assert netlink.cstring(b"name\0junk") == "name"


def test_group_range() -> None:
    with pytest.raises(ValueError):
        nflog.NflogSocket(70000)
