"""Allowlist mode's name resolution: the host's answers, in the container's /etc/hosts.

In allowlist mode the container may not send DNS queries anywhere (a resolver that
answers any name is a channel out: DNS tunnelling), so coi resolves the allowlisted
names on the host and writes them into a marked block of the container's /etc/hosts,
which glibc reads before DNS (`hosts: files dns`). The block is rewritten on each
refresh; the rest of the file is left alone. A root process in the container can edit
the file, but only to point names at addresses the rules let through anyway.
"""

from __future__ import annotations

from collections.abc import Mapping

from coi.incus import files
from coi.incus.client import Client

PATH = "/etc/hosts"
BEGIN = "# coi allowlist: begin (written by coi at each refresh; edits are lost)"
END = "# coi allowlist: end"


def block(names: Mapping[str, tuple[str, ...]]) -> str:
    lines = [f"{address} {host}" for host in sorted(names) for address in names[host]]
    return "\n".join([BEGIN, *lines, END]) + "\n"


def merge(current: str, names: Mapping[str, tuple[str, ...]]) -> str:
    """`current` with its coi block (if any) replaced by one for `names`."""
    kept: list[str] = []
    inside = False
    for line in current.splitlines():
        if line == BEGIN:
            inside = True
        elif line == END and inside:
            inside = False
        elif not inside:
            kept.append(line)
    text = "\n".join(kept).rstrip("\n")
    return (text + "\n" if text else "") + block(names)


def sync(client: Client, container: str, names: Mapping[str, tuple[str, ...]]) -> bool:
    """Write the block into the container's /etc/hosts; False if it was current."""
    current = files.read_file(client, container, PATH).decode(errors="replace")
    wanted = merge(current, names)
    if wanted == current:
        return False
    files.write_file(client, container, PATH, wanted.encode(), mode=0o644)
    return True
