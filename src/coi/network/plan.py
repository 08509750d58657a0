"""From the table as it is to the commands that make it what it should be: pure.

The order matters when the commands run one by one (without root, through sudo):

1. the skeleton first: table, the `refuse` chain and its rules, the base chains, then
   in each base chain the catch-all that refuses every coi MAC without rules;
2. the container's new chains, filled while nothing jumps to them yet;
3. the switch: one rule per base chain sends the container's MAC to its new chain,
   replacing the old jump in place (`replace rule … handle`), or inserted before the
   catch-all if there was none;
4. only then the old generation's chains are emptied and deleted.

So a container is refused by the catch-all until step 3, and from step 3 on it is under
either its old or its new rules, never under none. Removal is the reverse: jumps out
first (the catch-all takes over), chains after. As root all of it is one transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from coi.errors import PolicyError
from coi.network.nic import Target
from coi.network.rules import (
    BASE_CHAINS,
    REFUSE,
    REFUSE_RULES,
    TABLE,
    UNREGISTERED,
    base_chain_spec,
    catch_all,
    chain_names,
)
from coi.network.table import TableState


def skeleton(state: TableState) -> list[str]:
    """What is missing of the shared part of the table (nothing, once it is there)."""
    cmds = [] if state.exists else [f"add table {TABLE}"]
    if REFUSE not in state.chains:
        cmds.append(f"add chain {TABLE} {REFUSE}")
    if not state.rules_in(REFUSE):
        cmds += [f"add rule {TABLE} {REFUSE} {rule}" for rule in REFUSE_RULES]
    for chain, hook in BASE_CHAINS.items():
        if chain not in state.chains:
            cmds.append(f"add chain {TABLE} {chain} {base_chain_spec(hook)}")
    for chain in BASE_CHAINS:
        if state.find(chain, UNREGISTERED) is None:
            cmds.append(f"add rule {TABLE} {chain} {catch_all()}")
    return cmds


LOG_GROUPS = (0x4000, 0xC000)  # nflog groups coi picks from: [low, high)


def log_group(state: TableState, container: str) -> int:
    """The nflog group for `container`'s log rules: the one its rules use already, else
    the first one no other container's rules use, starting from a point derived from
    its name (so concurrent sessions rarely race for the same one)."""
    own = state.log_group(container)
    if own is not None:
        return own
    used = state.log_groups(but=container)
    low, high = LOG_GROUPS
    size = high - low
    start = int.from_bytes(hashlib.sha256(container.encode()).digest()[:4], "big") % size
    for step in range(size):
        group = low + (start + step) % size
        if group not in used:
            return group
    raise PolicyError("no free nflog group for the monitor's log rules")


def next_generation(state: TableState, container: str) -> int:
    """The generation (0 or 1) the container's next chains get: not the current one."""
    return 0 if state.generation(container) in (None, 1) else 1


def install(state: TableState, target: Target, forward: Sequence[str],
            inputs: Sequence[str], stamp: int) -> list[str]:
    """Commands that put `target` under these rules (whatever it was under before)."""
    name = target.container
    chains = dict(zip(BASE_CHAINS, chain_names(name, next_generation(state, name)),
                      strict=True))
    cmds = skeleton(state)
    for chain, rules in zip(chains.values(), (forward, inputs), strict=True):
        verb = "flush" if chain in state.chains else "add"
        cmds.append(f"{verb} chain {TABLE} {chain}")
        cmds += [f"add rule {TABLE} {chain} {rule}" for rule in rules]
    cmds += _switch(state, target, chains, stamp)
    keep = set(chains.values())
    cmds += _drop_chains([c for c in state.chains_of(name) if c not in keep])
    return cmds


def _switch(state: TableState, target: Target, chains: dict[str, str],
            stamp: int) -> list[str]:
    cmds: list[str] = []
    mine = state.jumps(target.container)
    for base, chain in chains.items():
        jump = f'ether saddr {target.mac} jump {chain} comment "at-{stamp}"'
        old = [r for r in mine if r.chain == base]
        # Another container's jump for this MAC: a stale leftover (a renamed container).
        stale = [r for r in state.rules_in(base)
                 if r.mac == target.mac and r.verdict == "jump" and r not in old]
        if old:
            cmds.append(f"replace rule {TABLE} {base} handle {old[0].handle} {jump}")
        else:
            cmds.append(f"insert rule {TABLE} {base} {jump}")
        cmds += [f"delete rule {TABLE} {base} handle {r.handle}" for r in old[1:] + stale]
    return cmds


def _drop_chains(chains: Sequence[str]) -> list[str]:
    cmds = [f"flush chain {TABLE} {c}" for c in chains]
    return cmds + [f"delete chain {TABLE} {c}" for c in chains]


def uninstall(state: TableState, container: str) -> list[str]:
    """Commands that take every rule of `container` away (none if it has none)."""
    cmds = [f"delete rule {TABLE} {r.chain} handle {r.handle}"
            for r in state.jumps(container)]
    return cmds + _drop_chains(state.chains_of(container))
