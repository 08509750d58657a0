"""Proc connector messages and the socket filter's constants."""

from __future__ import annotations

import struct

from coi.monitor import execwatch, netlink
from coi.monitor.execwatch import CN_MSG, FILTER, PROC_EVENT_EXEC, WHAT_OFFSET, exec_pid

FORK = 0x00000001


def event(what: int, pid: int, tgid: int) -> bytes:
    body = struct.pack("=IIQii", what, 0, 123, pid, tgid) + b"\0" * 8
    cn = CN_MSG.pack(execwatch.CN_IDX_PROC, execwatch.CN_VAL_PROC, 1, 0, len(body), 0)
    return netlink.nlmsg(netlink.NLMSG_DONE, 0, cn + body)


def test_exec_event_gives_the_tgid() -> None:
    assert exec_pid(event(PROC_EVENT_EXEC, 4321, 4300)) == 4300
    assert exec_pid(event(FORK, 4321, 4300)) is None
    assert exec_pid(b"\0" * 20) is None


def test_filter_compares_the_word_the_kernel_loads() -> None:
    data = event(PROC_EVENT_EXEC, 1, 1)
    loaded = struct.unpack_from(">I", data, WHAT_OFFSET)[0]  # BPF_LD|BPF_W|BPF_ABS
    assert FILTER[0] == (0x20, 0, 0, WHAT_OFFSET)
    assert FILTER[1][3] == loaded
    other = struct.unpack_from(">I", event(FORK, 1, 1), WHAT_OFFSET)[0]
    assert FILTER[1][3] != other
    assert WHAT_OFFSET == 36
