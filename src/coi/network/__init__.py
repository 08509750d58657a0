"""Network isolation: a session's egress policy as nftables rules coi owns.

One table, `inet coi`; per container two chains reached by the container's MAC address
(see `nic` for why the MAC and not the veth). The pieces:

- `policy`   NetworkPolicy.from_config(config.network, tool_domains)
- `nic`      nic_device / nic_overrides for the create request, Bridge, Target
- `firewall` apply (before create), refresh, remove, orphans, clean_orphans,
             log_group_of (the nflog group the monitor reads)
- `proof`    verify(): the proof from inside the container at session start
- `health`   checks for `coi health`

Importing this package loads nothing else; the names below are imported on first use.
docs/network.md describes the behaviour.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from coi.network.firewall import (
        Applied,
        apply,
        clean_orphans,
        log_group_of,
        orphans,
        prepare_table,
        refresh,
        remove,
    )
    from coi.network.nic import Bridge, Target, bridge, mac_address, nic_device, nic_overrides
    from coi.network.policy import NetworkPolicy
    from coi.network.proof import Proof, verify

__all__ = [
    "Applied",
    "Bridge",
    "NetworkPolicy",
    "Proof",
    "Target",
    "apply",
    "bridge",
    "clean_orphans",
    "log_group_of",
    "mac_address",
    "nic_device",
    "nic_overrides",
    "orphans",
    "prepare_table",
    "refresh",
    "remove",
    "verify",
]

_HOMES = {
    **dict.fromkeys(("Applied", "apply", "clean_orphans", "log_group_of", "orphans",
                     "prepare_table", "refresh", "remove"), "coi.network.firewall"),
    **dict.fromkeys(("Bridge", "Target", "bridge", "mac_address", "nic_device",
                     "nic_overrides"), "coi.network.nic"),
    "NetworkPolicy": "coi.network.policy",
    "Proof": "coi.network.proof",
    "verify": "coi.network.proof",
}


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'coi.network' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value
