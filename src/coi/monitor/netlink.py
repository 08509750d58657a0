"""Raw netlink, just enough for the monitor's kernel event sources: stdlib only.

Messages are `nlmsghdr` (length, type, flags, seq, pid) followed by a payload, each
aligned to 4 bytes; nfnetlink payloads start with `nfgenmsg` (family, version, res_id)
and carry attributes (`nlattr`: length, type, value, aligned to 4). `messages` walks a
datagram, `attributes` walks a payload; NLMSG_ERROR with a nonzero code becomes an
OSError with that errno. The supervisor imports these modules, so they import nothing
heavier than socket and struct.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
from collections.abc import Iterator

from coi.errors import CoiError

NETLINK_CONNECTOR = 11
NETLINK_NETFILTER = 12
SOL_NETLINK = 270
NETLINK_ADD_MEMBERSHIP = 1
NETLINK_NO_ENOBUFS = 5

NLMSG_NOOP, NLMSG_ERROR, NLMSG_DONE, NLMSG_OVERRUN = 1, 2, 3, 4
NLM_F_REQUEST, NLM_F_ACK = 0x1, 0x4
NLA_F_NESTED, NLA_F_NET_BYTEORDER = 0x8000, 0x4000
NLA_TYPE_MASK = ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER) & 0xFFFF

NLMSGHDR = struct.Struct("=IHHII")  # len, type, flags, seq, pid (host order)
NFGENMSG = struct.Struct("=BBH")  # family, version, res_id (res_id is big-endian)
NLATTR = struct.Struct("=HH")
NFNETLINK_V0 = 0

RECV_SIZE = 65536


class KernelSourceError(CoiError):
    """A kernel event source (nflog, nftables notifications, the proc connector) is not
    available here: the message says why and what is lost."""


def align(n: int) -> int:
    return (n + 3) & ~3


def nlmsg(msg_type: int, flags: int, payload: bytes, seq: int = 0) -> bytes:
    """One netlink message (header + payload, padded)."""
    length = NLMSGHDR.size + len(payload)
    return NLMSGHDR.pack(length, msg_type, flags, seq, 0) + payload + b"\0" * (
        align(length) - length)


def nfgen(family: int, res_id: int = 0) -> bytes:
    """The nfgenmsg header; `res_id` goes in network byte order."""
    return NFGENMSG.pack(family, NFNETLINK_V0, socket.htons(res_id))


def nlattr(attr_type: int, value: bytes) -> bytes:
    length = NLATTR.size + len(value)
    return NLATTR.pack(length, attr_type) + value + b"\0" * (align(length) - length)


def messages(data: bytes) -> Iterator[tuple[int, int, memoryview]]:
    """(type, flags, payload) of each message in a datagram. NLMSG_ERROR with a nonzero
    code raises OSError(code); an ack (code 0), NOOP and DONE are skipped."""
    view = memoryview(data)
    offset, end = 0, len(data)
    while offset + NLMSGHDR.size <= end:
        length, msg_type, flags, _seq, _pid = NLMSGHDR.unpack_from(view, offset)
        if length < NLMSGHDR.size or offset + length > end:
            return
        payload = view[offset + NLMSGHDR.size:offset + length]
        offset += align(length)
        if msg_type == NLMSG_ERROR:
            code = -struct.unpack_from("=i", payload, 0)[0] if len(payload) >= 4 else 0
            if code:
                raise OSError(code, os.strerror(code))
            continue
        if msg_type in (NLMSG_NOOP, NLMSG_DONE, NLMSG_OVERRUN):
            continue
        yield msg_type, flags, payload


def attributes(payload: memoryview | bytes, offset: int = 0) -> Iterator[tuple[int, memoryview]]:
    """(type without the NESTED/BYTEORDER flags, value) of each attribute."""
    view = memoryview(payload)
    end = len(view)
    while offset + NLATTR.size <= end:
        length, attr_type = NLATTR.unpack_from(view, offset)
        if length < NLATTR.size or offset + length > end:
            return
        yield attr_type & NLA_TYPE_MASK, view[offset + NLATTR.size:offset + length]
        offset += align(length)


def attr_map(payload: memoryview | bytes, offset: int = 0) -> dict[int, memoryview]:
    """The attributes as a dict (the last of a repeated type wins)."""
    return dict(attributes(payload, offset))


def cstring(value: memoryview | bytes) -> str:
    """A NUL-terminated string attribute."""
    raw = bytes(value)
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace")


def open_socket(protocol: int, groups: int = 0, rcvbuf: int = 0) -> socket.socket:
    """A non-blocking, close-on-exec netlink socket bound to an automatic port id (and
    the multicast `groups` bitmask), with a receive buffer of `rcvbuf` bytes if given."""
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_NONBLOCK
                         | socket.SOCK_CLOEXEC, protocol)
    try:
        if rcvbuf:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.bind((0, groups))
    except OSError:
        sock.close()
        raise
    return sock


def request(sock: socket.socket, message: bytes, timeout: float = 1.0) -> None:
    """Send one request with NLM_F_ACK set by the caller and wait for its ack; the
    kernel's error comes back as OSError. Other messages received meanwhile are
    dropped (callers send requests before they start reading events)."""
    sock.sendto(message, (0, 0))
    previous = sock.gettimeout()
    sock.settimeout(timeout)
    try:
        while True:
            data = sock.recv(RECV_SIZE)
            if _acked(data):
                return
    except TimeoutError:
        raise OSError(errno.ETIMEDOUT, "no answer from the kernel") from None
    finally:
        sock.settimeout(previous)


def _acked(data: bytes) -> bool:
    view = memoryview(data)
    offset = 0
    while offset + NLMSGHDR.size <= len(data):
        length, msg_type, _flags, _seq, _pid = NLMSGHDR.unpack_from(view, offset)
        if length < NLMSGHDR.size:
            return False
        if msg_type == NLMSG_ERROR:
            code = -struct.unpack_from("=i", view, offset + NLMSGHDR.size)[0]
            if code:
                raise OSError(code, os.strerror(code))
            return True
        offset += align(length)
    return False


def datagrams(sock: socket.socket, size: int = RECV_SIZE) -> Iterator[bytes | None]:
    """Every datagram queued on non-blocking `sock` now (never blocks); None for each
    receive-buffer overflow (ENOBUFS: the kernel dropped some), after which reading
    goes on with what came later."""
    while True:
        try:
            data = sock.recv(size)
        except BlockingIOError:
            return
        except OSError as exc:
            if exc.errno != errno.ENOBUFS:
                raise
            yield None
            continue
        if not data:
            return
        yield data
