"""Check, from inside a started container, that the protection really holds.

Not a look-alike check: as container root it tries to unmount every protected and masked
path. The kernel refuses when the mounts are locked (they came from the host's namespace);
if any unmount succeeds, or a path is not a read-only mount point, the session must not
go on — the runtime stops the container when this raises.
"""

from __future__ import annotations

import re
import shlex

from coi.errors import PolicyError
from coi.incus import exec as incus_exec
from coi.incus.client import Client
from coi.security.protect import ProtectionPlan

_ESCAPE = re.compile(r"\\([0-7]{3})")


def script(points: list[str]) -> str:
    tries = "; ".join(f"umount {shlex.quote(p)} 2>/dev/null && echo UNMOUNTED {shlex.quote(p)}"
                      for p in points)
    return f"{tries}; echo ---; cat /proc/self/mountinfo"


def mount_points(plan: ProtectionPlan, root: str = "/workspace") -> list[str]:
    return [f"{root}/{t.rel}" for t in (*plan.targets, *plan.masks)]


def readonly_points(mountinfo: str) -> set[str]:
    """Mount points whose per-mount options include `ro`."""
    found = set()
    for line in mountinfo.splitlines():
        fields = line.split()
        if len(fields) > 5 and "ro" in fields[5].split(","):
            found.add(_ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), fields[4]))
    return found


def problems(points: list[str], output: str) -> list[str]:
    head, _, mountinfo = output.partition("---\n")
    found = [f"{line.split(' ', 1)[1]} could be unmounted by container root"
             for line in head.splitlines() if line.startswith("UNMOUNTED ")]
    readonly = readonly_points(mountinfo)
    found += [f"{p} is not a read-only mount point" for p in points if p not in readonly]
    return found


def verify(client: Client, container: str, plan: ProtectionPlan,
           root: str = "/workspace") -> None:
    """PolicyError unless every protected path is locked read-only in `container`."""
    points = mount_points(plan, root)
    if not plan.active or not points:
        return
    result = incus_exec.run(client, container, ["sh", "-c", script(points)], user=0,
                            group=0, timeout=30)
    issues = problems(points, result.stdout.decode(errors="replace"))
    if result.exit_code != 0 or issues:
        detail = "; ".join(issues) or f"check exited {result.exit_code}"
        raise PolicyError(f"protected paths do not hold in {container}: {detail}",
                          hint="stop the container; report this with `coi health` output")
