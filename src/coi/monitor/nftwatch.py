"""Notifications of nftables changes (the kernel's NFNLGRP_NFTABLES multicast group),
so the supervisor checks coi's rules the moment someone changes them instead of
polling `nft list` (see `coi.network.integrity`).

`NftWatch()` joins the group on a non-blocking netlink socket; register `fileno()` with
a selector and call `drain()` when it is readable: True when any queued notification
concerns table `inet coi`, or when one cannot be attributed (the socket overflowed and
notifications were lost): then the caller checks, fail safe. Every change to any table
is delivered (one message per table, chain, rule, set, element, plus one NEWGEN per
transaction); changes to other tables cost one parse each and return False. Joining
needs CAP_NET_ADMIN, and sees only the network namespace the socket was made in.
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Iterable

from coi.monitor import netlink
from coi.monitor.netlink import KernelSourceError

NFNLGRP_NFTABLES = 7
NFNL_SUBSYS_NFTABLES = 10
NFT_MSG_NEWGEN = 15
NFT_MSG_DELTABLE, NFT_MSG_NEWCHAIN, NFT_MSG_DELCHAIN = 2, 3, 5
NFT_MSG_NEWRULE, NFT_MSG_DELRULE = 6, 8
CHAIN_NAME_ATTR = 3  # NFTA_CHAIN_NAME
RULE_CHAIN_ATTR = 2  # NFTA_RULE_CHAIN
NFPROTO_INET = 1
TABLE_ATTR = 1  # NFTA_{TABLE_NAME,CHAIN_TABLE,RULE_TABLE,SET_TABLE,...}: all type 1
RCVBUF = 1 << 20


class NftWatch:
    """Watches for changes to one nftables table (default: inet coi)."""

    def __init__(self, table: str = "coi", family: int = NFPROTO_INET,
                 chains: Iterable[str] | None = None) -> None:
        """`chains`: only changes to these chains (or to the table as a whole) count;
        None: every change to the table does."""
        self.table = table.encode()
        self.family = family
        self.chains = frozenset(c.encode() for c in chains) if chains is not None else None
        self.lost = 0  # overflows seen
        try:
            self._sock = netlink.open_socket(netlink.NETLINK_NETFILTER, rcvbuf=RCVBUF)
        except OSError as exc:
            raise KernelSourceError(f"cannot open a netfilter netlink socket: {exc}") from None
        try:
            self._sock.setsockopt(netlink.SOL_NETLINK, netlink.NETLINK_ADD_MEMBERSHIP,
                                  NFNLGRP_NFTABLES)
        except OSError as exc:
            self._sock.close()
            why = "needs root (CAP_NET_ADMIN)" if exc.errno == errno.EPERM else exc.strerror
            raise KernelSourceError(f"cannot watch nftables changes: {why}; coi's rules "
                                    "are checked by polling instead") from None

    def fileno(self) -> int:
        return self._sock.fileno()

    def drain(self) -> bool:
        """Read every queued notification; True if any concerns the watched table or
        notifications were lost."""
        hit = False
        for data in netlink.datagrams(self._sock):
            if data is None:
                self.lost += 1
            hit = data is None or self.concerns(data) or hit
        return hit

    def concerns(self, data: bytes) -> bool:
        """Whether a datagram of notifications touches the watched table."""
        wanted = None if self.chains is None else self.chains.__contains__
        return touches(data, self.table, self.family, wanted)

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> NftWatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def touches(data: bytes, table: bytes = b"coi", family: int = NFPROTO_INET,
            chains: Callable[[bytes], bool] | None = None) -> bool:
    """Whether any nftables notification in `data` concerns `table` of `family`, or
    names no table (then it might). With `chains`, a change to a chain or rule counts
    only when `chains(name)` says that chain matters (or the name is missing); sets
    and new chains of other names never do, a deleted table always does."""
    subsystem = NFNL_SUBSYS_NFTABLES << 8
    for msg_type, _flags, payload in netlink.messages(data):
        if msg_type & 0xFF00 != subsystem or msg_type & 0xFF == NFT_MSG_NEWGEN:
            continue
        if len(payload) < netlink.NFGENMSG.size:
            return True
        if payload[0] != family:
            continue
        attrs = netlink.attr_map(payload, netlink.NFGENMSG.size)
        name = attrs.get(TABLE_ATTR)
        if name is not None and bytes(name).rstrip(b"\0") != table:
            continue
        if name is None or chains is None or _matters(msg_type & 0xFF, attrs, chains):
            return True
    return False


def _matters(kind: int, attrs: dict[int, memoryview],
             chains: Callable[[bytes], bool]) -> bool:
    if kind == NFT_MSG_DELTABLE:
        return True
    if kind in (NFT_MSG_NEWCHAIN, NFT_MSG_DELCHAIN):
        chain = attrs.get(CHAIN_NAME_ATTR)
    elif kind in (NFT_MSG_NEWRULE, NFT_MSG_DELRULE):
        chain = attrs.get(RULE_CHAIN_ATTR)
    else:
        return False  # sets, elements, objects, a new table: coi's rules use none
    return chain is None or chains(bytes(chain).rstrip(b"\0"))
