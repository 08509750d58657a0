"""Which nftables notifications concern table inet coi."""

from __future__ import annotations

from coi.monitor import netlink
from coi.monitor.nftwatch import NFNL_SUBSYS_NFTABLES, NFT_MSG_NEWGEN, touches

NEWRULE, DELTABLE = 6, 2
INET, IP = 1, 2


def note(msg: int, family: int, table: str | None, extra: bytes = b"") -> bytes:
    attrs = extra + (netlink.nlattr(1, table.encode() + b"\0") if table is not None else b"")
    return netlink.nlmsg((NFNL_SUBSYS_NFTABLES << 8) | msg, 0, netlink.nfgen(family) + attrs)


def test_rules_of_table_inet_coi_count() -> None:
    assert touches(note(NEWRULE, INET, "coi"))
    assert touches(note(DELTABLE, INET, "coi"))


def test_other_tables_families_and_generations_do_not() -> None:
    assert not touches(note(NEWRULE, INET, "incus"))
    assert not touches(note(NEWRULE, IP, "coi"))
    assert not touches(note(NFT_MSG_NEWGEN, 0, None))
    assert not touches(netlink.nlmsg(0x0400, 0, netlink.nfgen(INET)))  # another subsystem
    assert not touches(note(NEWRULE, INET, "coi2"))


def test_unattributable_counts_and_batches_are_scanned() -> None:
    assert touches(note(NEWRULE, INET, None))  # no table attribute: might be ours
    batch = note(NEWRULE, INET, "incus") + note(NFT_MSG_NEWGEN, 0, None) + note(6, INET, "coi")
    assert touches(batch)
    assert touches(note(NEWRULE, INET, "coi"), table=b"coi")
    assert not touches(note(NEWRULE, INET, "coi"), table=b"other")
