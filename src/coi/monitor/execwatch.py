"""Exec events from the kernel (the netlink process connector), so a command that runs
for a few milliseconds between two polls is still seen.

`ExecWatch()` joins the connector's CN_IDX_PROC group and asks for events
(PROC_CN_MCAST_LISTEN). A classic BPF filter on the socket keeps only PROC_EVENT_EXEC:
the host's forks, exits, uid changes… are dropped in the kernel and cost this process
nothing. `drain()` returns the host pids (thread group ids) that called exec since the
last call; the caller keeps those in its container's cgroup and scans them while their
`/proc` entries exist (a process that exited already is gone: the event only says
that something ran).

Only from the initial network namespace (and, for events to arrive, the initial pid
namespace); root is needed before Linux 6.6, which lets any user listen (measured here,
6.18: works as nobody). Where it cannot work `ExecWatch()` raises KernelSourceError and
the caller falls back to polling.
"""

from __future__ import annotations

import array
import contextlib
import errno
import socket
import struct

from coi.monitor import netlink
from coi.monitor.netlink import KernelSourceError

CN_IDX_PROC, CN_VAL_PROC = 1, 1
PROC_CN_MCAST_LISTEN, PROC_CN_MCAST_IGNORE = 1, 2
PROC_EVENT_EXEC = 0x00000002
CN_MSG = struct.Struct("=IIIIHH")  # idx, val, seq, ack, len, flags
# proc_event: what (u32), cpu (u32), timestamp_ns (u64), then exec: pid, tgid.
WHAT_OFFSET = netlink.NLMSGHDR.size + CN_MSG.size
EXEC = struct.Struct("=ii")
EXEC_OFFSET = WHAT_OFFSET + 16
SO_ATTACH_FILTER = getattr(socket, "SO_ATTACH_FILTER", 26)
RCVBUF = 1 << 20

# Classic BPF: A = word at `what` (loaded big-endian, so compare with the host-order
# value's bytes read big-endian); keep the whole message if it is an exec, else drop.
BPF_LD_W_ABS, BPF_JEQ_K, BPF_RET_K = 0x20, 0x15, 0x06
EXEC_WORD = struct.unpack(">I", struct.pack("=I", PROC_EVENT_EXEC))[0]
FILTER = (
    (BPF_LD_W_ABS, 0, 0, WHAT_OFFSET),
    (BPF_JEQ_K, 0, 1, EXEC_WORD),
    (BPF_RET_K, 0, 0, 0xFFFFFFFF),
    (BPF_RET_K, 0, 0, 0),
)


class ExecWatch:
    """Exec events of the whole host, read without blocking."""

    def __init__(self) -> None:
        self.lost = 0  # overflows seen (exec events dropped by the kernel)
        try:
            self._sock = netlink.open_socket(netlink.NETLINK_CONNECTOR, CN_IDX_PROC, RCVBUF)
        except OSError as exc:
            raise KernelSourceError(_message(exc)) from None
        try:
            attach_filter(self._sock, FILTER)
            self._control(PROC_CN_MCAST_LISTEN)
        except OSError as exc:
            self._sock.close()
            raise KernelSourceError(_message(exc)) from None

    def _control(self, op: int) -> None:
        body = struct.pack("=I", op)
        msg = CN_MSG.pack(CN_IDX_PROC, CN_VAL_PROC, 0, 0, len(body), 0) + body
        self._sock.sendto(netlink.nlmsg(netlink.NLMSG_DONE, 0, msg), (0, 0))

    def fileno(self) -> int:
        return self._sock.fileno()

    def drain(self) -> list[int]:
        """The host pids (tgid) that exec'd since the last call, in order."""
        pids: list[int] = []
        for data in netlink.datagrams(self._sock, 4096):
            if data is None:
                self.lost += 1
                continue
            pid = exec_pid(data)
            if pid is not None:
                pids.append(pid)
        return pids

    def close(self) -> None:
        if self._sock.fileno() >= 0:
            with contextlib.suppress(OSError):
                self._control(PROC_CN_MCAST_IGNORE)
            self._sock.close()

    def __enter__(self) -> ExecWatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def exec_pid(data: bytes) -> int | None:
    """The tgid of a PROC_EVENT_EXEC message (None for anything else)."""
    if len(data) < EXEC_OFFSET + EXEC.size:
        return None
    if struct.unpack_from("=I", data, WHAT_OFFSET)[0] != PROC_EVENT_EXEC:
        return None
    return int(EXEC.unpack_from(data, EXEC_OFFSET)[1])


def attach_filter(sock: socket.socket, program: tuple[tuple[int, int, int, int], ...]) -> None:
    """SO_ATTACH_FILTER with a classic BPF program (struct sock_fprog by address)."""
    code = array.array("B", b"".join(struct.pack("=HBBI", *insn) for insn in program))
    address, _ = code.buffer_info()
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER,
                    struct.pack("@HP", len(program), address))


def _message(exc: OSError) -> str:
    if exc.errno == errno.EPERM:
        why = "needs root (CAP_NET_ADMIN)"
    elif exc.errno in (errno.EPROTONOSUPPORT, errno.ENOENT, errno.ECONNREFUSED):
        why = "the process connector is not available here (only in the initial network " \
              "namespace, with CONFIG_PROC_EVENTS)"
    else:
        why = exc.strerror or str(exc)
    return (f"cannot receive exec events: {why}; short-lived commands are seen only if a "
            "poll lands on them")
