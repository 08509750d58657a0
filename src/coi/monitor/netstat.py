"""Parse the kernel's socket tables (`/proc/<pid>/net/{tcp,tcp6,udp,udp6}`).

Each table belongs to a network namespace; reading it through a pid of the container
gives the container's sockets, keyed by the inode that `/proc/<pid>/fd/*` shows as
`socket:[<inode>]`.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

TABLES = ("tcp", "tcp6", "udp", "udp6")
TCP_STATES = {
    "01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV", "04": "FIN_WAIT1",
    "05": "FIN_WAIT2", "06": "TIME_WAIT", "07": "CLOSE", "08": "CLOSE_WAIT",
    "09": "LAST_ACK", "0A": "LISTEN", "0B": "CLOSING", "0C": "NEW_SYN_RECV",
}


@dataclass(frozen=True)
class Socket:
    inode: int
    proto: str  # tcp, tcp6, udp, udp6
    local_addr: str
    local_port: int
    remote_addr: str
    remote_port: int
    state: str

    @property
    def connected(self) -> bool:
        """A TCP connection that is up, or a UDP socket with a fixed peer."""
        return self.state == "ESTABLISHED" and self.remote_port != 0

    @property
    def remote_is_loopback(self) -> bool:
        return is_loopback(self.remote_addr)

    def evidence(self) -> dict[str, object]:
        return {"proto": self.proto, "inode": self.inode, "state": self.state,
                "local": f"{self.local_addr}:{self.local_port}",
                "remote": f"{self.remote_addr}:{self.remote_port}"}


def is_loopback(addr: str) -> bool:
    ip = ipaddress.ip_address(addr)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback
    return ip.is_loopback


def decode_address(text: str) -> tuple[str, int]:
    """`0100007F:0050` → ("127.0.0.1", 80). The kernel prints each 32-bit word of the
    address in host byte order (little-endian here)."""
    hexaddr, hexport = text.split(":")
    raw = bytes.fromhex(hexaddr)
    packed = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    return str(ipaddress.ip_address(packed)), int(hexport, 16)


def parse_table(text: str, proto: str) -> list[Socket]:
    sockets = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10:
            continue
        try:
            local, remote = decode_address(fields[1]), decode_address(fields[2])
            inode = int(fields[9])
        except ValueError:
            continue
        state = TCP_STATES.get(fields[3].upper(), fields[3])
        sockets.append(Socket(inode, proto, *local, *remote, state))
    return sockets


def read_sockets(proc_root: Path, pid: int) -> dict[int, Socket]:
    """All inet sockets of `pid`'s network namespace, by inode (inode 0 — sockets in
    TIME_WAIT that no process owns — is left out)."""
    found: dict[int, Socket] = {}
    for proto in TABLES:
        try:
            text = (proc_root / str(pid) / "net" / proto).read_text()
        except OSError:
            continue
        found.update((s.inode, s) for s in parse_table(text, proto) if s.inode)
    return found
