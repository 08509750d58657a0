"""A fake host /proc tree for the monitor tests (and tests of the fake itself)."""

from __future__ import annotations

import os
import socket
import struct
from pathlib import Path

CONTAINER_PIDNS = "pid:[4026532001]"
HOST_PIDNS = "pid:[4026531836]"
CONTAINER_NETNS = "net:[4026532005]"
TCP_HEADER = ("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when "
              "retrnsmt   uid  timeout inode\n")


def hex_v4(addr: str, port: int) -> str:
    """As the kernel prints it: the 32-bit address in little-endian hex."""
    (word,) = struct.unpack("<I", socket.inet_aton(addr))
    return f"{word:08X}:{port:04X}"


def hex_v6(addr: str, port: int) -> str:
    raw = socket.inet_pton(socket.AF_INET6, addr)
    words = "".join(f"{struct.unpack('<I', raw[i:i + 4])[0]:08X}" for i in range(0, 16, 4))
    return f"{words}:{port:04X}"


class FakeProc:
    """Build `<tmp>/proc/<pid>/{status,cmdline,ns/*,fd/*,net/*}`."""

    def __init__(self, root: Path) -> None:
        self.root = root / "proc"
        self.root.mkdir()
        self.tables: dict[tuple[int, str], list[str]] = {}

    def add(self, pid: int, cmdline: list[str], *, ppid: int = 1, name: str | None = None,
            uid: int = 1001000, ns_pid: int | None = None, pidns: str = CONTAINER_PIDNS,
            netns: str = CONTAINER_NETNS, fds: dict[int, str] | None = None) -> None:
        base = self.root / str(pid)
        (base / "ns").mkdir(parents=True)
        (base / "fd").mkdir()
        comm = name or (os.path.basename(cmdline[0])[:15] if cmdline else "kworker")
        nspid = f"{pid}\t{ns_pid}" if ns_pid is not None else str(pid)
        (base / "status").write_text(
            f"Name:\t{comm}\nUmask:\t0022\nState:\tS (sleeping)\nPid:\t{pid}\n"
            f"PPid:\t{ppid}\nUid:\t{uid}\t{uid}\t{uid}\t{uid}\nNSpid:\t{nspid}\n")
        (base / "cmdline").write_bytes(b"".join(a.encode() + b"\0" for a in cmdline))
        os.symlink(pidns, base / "ns" / "pid")
        os.symlink(netns, base / "ns" / "net")
        for fd, target in (fds or {}).items():
            os.symlink(target, base / "fd" / str(fd))

    def tcp(self, pid: int, inode: int, local: tuple[str, int], remote: tuple[str, int], *,
            state: str = "01", proto: str = "tcp") -> None:
        enc = hex_v6 if proto.endswith("6") else hex_v4
        row = (f"   0: {enc(*local)} {enc(*remote)} {state} 00000000:00000000 00:00000000 "
               f"00000000  1000        0 {inode} 1 0000000000000000 20 4 30 10 -1")
        self.tables.setdefault((pid, proto), []).append(row)
        net = self.root / str(pid) / "net"
        net.mkdir(exist_ok=True)
        (net / proto).write_text(TCP_HEADER + "\n".join(self.tables[(pid, proto)]) + "\n")


def test_fake_addresses_match_the_kernel_format() -> None:
    assert hex_v4("127.0.0.1", 80) == "0100007F:0050"
    assert hex_v6("::1", 22) == "00000000000000000000000001000000:0016"
