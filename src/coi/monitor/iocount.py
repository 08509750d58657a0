"""How much a container's processes read, from the host's `/proc`.

Block-device counters (cgroup `io.stat`) miss everything served from the page cache,
which is where a freshly written or often read workspace file lives. What a process
passed through read(2) and friends is `rchar` in `/proc/<pid>/io` instead. Two facts
make a container-wide total of it work:

- When a process is reaped, the kernel adds its counters to its parent's (the reaper's
  `signal->ioac`), so a short-lived `cat` that ran between two samples still shows up,
  as a jump of its parent's `rchar`. `ReadAccounting` remembers the last value seen of
  every process that vanished and credits it against the parent's next jump, so nothing
  is counted twice.
- `rchar` also counts bytes read from sockets. What arrived over the network (the rx
  bytes of every interface in the container's network namespaces, loopback included) is
  taken off, per sample, so `npm install` is not "reading the workspace".

What remains are file, pipe and terminal reads: a bound on reads of workspace files
(a pipe between two processes counts twice) that the page cache cannot hide.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path


def read_chars(proc_root: Path, pid: int) -> int | None:
    """`rchar` of one process (None when it is gone or not readable)."""
    try:
        with open(f"{proc_root}/{pid}/io", "rb") as handle:
            text = handle.read()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(b"rchar:"):
            try:
                return int(line[6:])
            except ValueError:
                return None
    return None


def net_rx_bytes(proc_root: Path, pid: int) -> int:
    """Bytes received on every interface of `pid`'s network namespace (0 if unreadable)."""
    try:
        with open(f"{proc_root}/{pid}/net/dev", "rb") as handle:
            lines = handle.read().splitlines()[2:]
    except OSError:
        return 0
    total = 0
    for line in lines:
        _, sep, counters = line.partition(b":")
        fields = counters.split()
        if sep and fields and fields[0].isdigit():
            total += int(fields[0])
    return total


class ReadAccounting:
    """Cumulative bytes read by a container's processes, net of network receive.

    `update` takes, per live process, its `rchar` and parent pid, and per network
    namespace its rx byte count; it returns the running total. The first call only
    primes (what was read before monitoring began is not counted)."""

    def __init__(self) -> None:
        self.total = 0
        self._last: dict[int, tuple[int, int]] = {}  # pid -> (rchar, ppid)
        self._credit: dict[int, int] = {}  # pid -> bytes its next jumps already counted
        self._net: dict[str, int] = {}
        self._primed = False

    def update(self, samples: Mapping[int, tuple[int, int]], net_rx: Mapping[str, int]) -> int:
        self._credit_vanished(samples)
        counted = sum(self._count(pid, rchar) for pid, (rchar, _) in samples.items())
        received = self._received(net_rx)
        if self._primed:
            self.total += max(0, counted - received)
        self._primed = True
        self._last = dict(samples)
        self._credit = {pid: c for pid, c in self._credit.items() if pid in samples and c}
        return self.total

    def _credit_vanished(self, samples: Mapping[int, tuple[int, int]]) -> None:
        """Credit each vanished process's last count (and what it held in credit) to
        its parent, children before parents, so a chain that exited in one interval
        ends up credited to the live process that reaps it."""
        gone = {pid: last for pid, last in self._last.items() if pid not in samples}
        while gone:
            parents = {ppid for _, ppid in gone.values()}
            leaves = [pid for pid in gone if pid not in parents] or list(gone)
            for pid in leaves:
                rchar, ppid = gone.pop(pid)
                self._credit[ppid] = (self._credit.get(ppid, 0) + rchar
                                      + self._credit.pop(pid, 0))

    def _count(self, pid: int, rchar: int) -> int:
        # A process new since the last sample: all it read counts (once primed).
        before = self._last.get(pid, (0 if self._primed else rchar, 0))[0]
        raw = max(0, rchar - before)
        credit = self._credit.get(pid, 0)
        self._credit[pid] = max(0, credit - raw)
        return max(0, raw - credit)

    def _received(self, net_rx: Mapping[str, int]) -> int:
        received = 0
        for netns, rx in net_rx.items():
            before = self._net.get(netns)
            if before is not None:
                received += max(0, rx - before)
            elif self._primed:
                received += rx  # a namespace created since: its counters started at 0
        self._net = dict(net_rx)
        return received
