"""Security settings every session container gets, and the network decision.

The network isolation (restricted and allowlist modes, as nftables rules) is a later
piece of work that replaces `apply_network_policy`. Until then coi fails closed: a
session whose network mode is not `open` does not start, rather than pretend to be
isolated.
"""

from __future__ import annotations

from coi.errors import PolicyError

# Unprivileged always, no guest API socket (/dev/incus), and what Docker needs inside.
SECURITY_CONFIG: dict[str, str] = {
    "security.privileged": "false",
    "security.guestapi": "false",
    "security.nesting": "true",
    "security.syscalls.intercept.mknod": "true",
    "security.syscalls.intercept.setxattr": "true",
}


def apply_network_policy(mode: str) -> dict[str, str]:
    """The container config keys that enforce network `mode`; PolicyError when this
    version of coi cannot enforce it (fail closed)."""
    if mode == "open":
        return {}
    raise PolicyError(
        f"network mode '{mode}' is not enforced by this version of coi yet; "
        "start with --network open to accept an unrestricted network")
