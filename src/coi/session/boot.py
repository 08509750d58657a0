"""Waiting for a started container, only as far as the session needs.

Exec works as soon as the container runs (~0.2 s after the create request). An
interactive session waits for systemd to finish booting (~0.5 s here): it cleans /tmp
at boot, which would remove a tmux socket made earlier, and the user expects services
(Docker) to be up. `coi run` waits by default only for an IPv4 address (DHCP, ~0.3 s),
so a command that uses the network works from its first instruction.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from coi.errors import NotFound

if TYPE_CHECKING:
    from coi.incus.client import Client

# Polls inside the container (one exec, not one per try). Images without systemd pass.
BOOT_SCRIPT = """\
command -v systemctl >/dev/null 2>&1 || exit 0
i=0
while [ "$i" -lt "$1" ]; do
    case "$(systemctl is-system-running 2>/dev/null)" in
        running|degraded|maintenance|stopping) exit 0 ;;
    esac
    sleep 0.05
    i=$((i + 1))
done
exit 1
"""


def wait_booted(client: Client, container: str, timeout: float = 30.0) -> bool:
    """Wait for systemd to finish booting; False when it did not within `timeout`
    (the session goes on: a slow unit should not block it)."""
    from coi.incus import exec as incus_exec

    tries = str(int(timeout / 0.05))
    result = incus_exec.run(client, container, ["sh", "-c", BOOT_SCRIPT, "sh", tries],
                            timeout=timeout + 30)
    return result.exit_code == 0


def wait_network(client: Client, container: str, timeout: float = 10.0,
                 interval: float = 0.05) -> bool:
    """Wait until the container has a global IPv4 address (or has no NIC to wait for).
    False when none came within `timeout`."""
    from coi.incus import instances

    deadline = time.monotonic() + timeout
    while True:
        try:
            state = instances.state(client, container)
        except NotFound:
            return False
        nics = [n for name, n in state.network.items() if name != "lo"]
        if not nics or any(n.ipv4 for n in nics):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
