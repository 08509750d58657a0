"""/etc/subuid and /etc/subgid: which host ids root (and so Incus) may map into containers.

Two grants matter to coi:
- a container range (>= 65536 ids, away from real users) that Incus maps container ids
  0-65535 onto; Debian's incus package writes `root:1000000:1000000000`;
- the ordinary user ids 1000-65535, so `raw.idmap "both <uid> 1000"` can map the invoking
  user onto the container's `code` user and files in /workspace keep their owner.
  liblxc maps ids through newuidmap, which re-reads these files at every container start,
  so a new grant works without restarting the daemon (measured with Incus 6.0.4).

Host uid 0 is never granted by default: a container whose `code` user is host root could
create set-uid-root files in a mounted workspace, a one-step root escalation on the host.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from coi.host.files import write_atomic

SUBUID = Path("/etc/subuid")
SUBGID = Path("/etc/subgid")
OWNER = "root"
# Host ids 1000..65535: the accounts of people. The count must stay below 65536: Incus
# keeps only root ranges of >= 65536 ids as container ranges (idmap FilterPOSIX), so this
# grant is never mistaken for one.
USER_RANGE = (1000, 64536)
CONTAINER_BASE = 1000000
CONTAINER_SIZE = 1000000000
POSIX_SIZE = 65536  # a container needs at least ids 0..65535
MAX_ID = 4294967294


@dataclass(frozen=True)
class SubId:
    """One `owner:start:count` line."""

    owner: str
    start: int
    count: int

    @property
    def end(self) -> int:
        return self.start + self.count

    def line(self) -> str:
        return f"{self.owner}:{self.start}:{self.count}"


def parse(text: str) -> list[SubId]:
    """Valid lines only; comments and malformed lines are left alone (and kept on edit)."""
    entries = []
    for raw in text.splitlines():
        fields = raw.split("#", 1)[0].strip().split(":")
        if len(fields) == 3 and fields[1].isdigit() and fields[2].isdigit():
            entries.append(SubId(fields[0], int(fields[1]), int(fields[2])))
    return entries


def owned(entries: Iterable[SubId], owner: str = OWNER) -> list[SubId]:
    return [e for e in entries if e.owner == owner]


def covers(entries: Iterable[SubId], start: int, count: int, owner: str = OWNER) -> bool:
    """True when the owner's ranges, together, include every id in [start, start+count)."""
    need = start
    for entry in sorted(owned(entries, owner), key=lambda e: e.start):
        if entry.start > need:
            break
        need = max(need, entry.end)
    return need >= start + count


def has_container_range(entries: Iterable[SubId], owner: str = OWNER) -> bool:
    """A range Incus can use for containers: >= 65536 ids above the users' ids."""
    return any(e.count >= POSIX_SIZE and e.start >= USER_RANGE[0] + USER_RANGE[1]
               for e in owned(entries, owner))


def container_range(entries: Iterable[SubId]) -> SubId:
    """Where to put a new container range: the usual place, or above everything in use."""
    ends = [e.end for e in entries if e.end > CONTAINER_BASE]
    start = max([CONTAINER_BASE, *ends])
    return SubId(OWNER, start, min(CONTAINER_SIZE, MAX_ID - start))


def needed_grants(entries: list[SubId]) -> list[SubId]:
    """The lines to append so root has a container range and the ordinary user ids."""
    missing = []
    if not covers(entries, *USER_RANGE):
        missing.append(SubId(OWNER, *USER_RANGE))
    if not has_container_range(entries):
        missing.append(container_range(entries))
    return missing


def with_grants(text: str, grants: Iterable[SubId]) -> str:
    """`text` with the grant lines appended; existing lines are never rewritten."""
    lines = [g.line() for g in grants]
    if not lines:
        return text
    head = text if not text or text.endswith("\n") else text + "\n"
    return head + "\n".join(lines) + "\n"


def read(path: Path) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:
        return ""


def ensure_grants(path: Path) -> list[SubId]:
    """Add what is missing to `path` (atomically); return the lines added."""
    text = read(path)
    grants = needed_grants(parse(text))
    if grants:
        write_atomic(path, with_grants(text, grants), mode=0o644)
    return grants
