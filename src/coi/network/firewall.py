"""Put a container's network policy into the kernel, refresh it, take it away.

`apply` runs before the container exists (its rules key on the MAC coi gives it), so
there is no moment at which it runs unfiltered; `remove` at session end; `refresh` on
the supervisor's timer (`policy.refresh_seconds`) in allowlist mode; `orphans` and
`clean_orphans` for `coi clean`. Each change is one `nft` transaction as root.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, replace

from coi.errors import PolicyError
from coi.incus.client import Client
from coi.network import hosts, plan, tablelock
from coi.network.nft import Nft
from coi.network.nic import Target
from coi.network.policy import NetworkPolicy
from coi.network.resolve import Lookup, Resolved, resolve, system_lookup
from coi.network.rules import forward_rules, input_rules
from coi.network.table import TableState

ORPHAN_GRACE = 300.0  # seconds: rules this young may belong to a session still starting


@dataclass(frozen=True)
class Applied:
    """A container's rules as installed: what `verify`, `refresh` and `remove` work from.
    `generation` is None when open mode went ahead without coi's table."""

    target: Target
    policy: NetworkPolicy
    resolved: Resolved
    forward: tuple[str, ...]
    inputs: tuple[str, ...]
    generation: int | None
    seconds: float
    warnings: tuple[str, ...] = ()

    @property
    def container(self) -> str:
        return self.target.container

    @property
    def log_group(self) -> int | None:
        """The nflog group the rules log to (None: no logging)."""
        return self.policy.log.group if self.policy.log else None


def apply(target: Target, policy: NetworkPolicy, *, nft: Nft | None = None,
          resolved: Resolved | None = None, lookup: Lookup = system_lookup) -> Applied:
    """Install (or atomically replace) the rules for `target`. Raises PolicyError when
    they cannot be installed; open mode only warns if coi's table does not exist (then
    nothing of coi's stands in its way). A LogSpec without a group gets one here (see
    `plan.log_group`); `Applied.policy` carries the group chosen."""
    started = time.monotonic()
    nft = nft or Nft()
    resolved = resolved or resolve(policy, target.bridge.subnets, lookup=lookup)
    state: TableState | None = None
    try:
        with tablelock.changing():
            state = nft.list_table()
            policy = with_log_group(policy, state, target.container)
            forward = tuple(forward_rules(target, policy, resolved))
            inputs = tuple(input_rules(target, policy, resolved))
            generation = plan.next_generation(state, target.container)
            cmds = plan.install(state, target, forward, inputs, int(time.time()))
            nft.apply(cmds, f"apply the {policy.mode} network policy of {target.container}")
    except PolicyError as exc:
        if policy.filtered or (state is not None and state.exists):
            raise
        policy = with_log_group(policy, TableState(False), target.container)
        return Applied(target, policy, resolved, tuple(forward_rules(target, policy, resolved)),
                       tuple(input_rules(target, policy, resolved)), None,
                       time.monotonic() - started,
                       (*resolved.warnings, f"open mode without coi's firewall table: {exc}"))
    return Applied(target, policy, resolved, forward, inputs, generation,
                   time.monotonic() - started, resolved.warnings)


def with_log_group(policy: NetworkPolicy, state: TableState, container: str) -> NetworkPolicy:
    """`policy` with its LogSpec's group chosen (unchanged without a LogSpec, or when
    the group was given)."""
    if policy.log is None or policy.log.group is not None:
        return policy
    return replace(policy, log=replace(policy.log, group=plan.log_group(state, container)))


def log_group_of(container: str, *, nft: Nft | None = None) -> int | None:
    """The nflog group `container`'s live rules log to (None: no rules, or no logging)."""
    state = (nft or Nft()).list_table()
    return state.log_group(container) if state.exists else None


def refresh(applied: Applied, *, client: Client | None = None, nft: Nft | None = None,
            lookup: Lookup = system_lookup) -> Applied:
    """Re-resolve the hostnames; swap the rules in one step if any address changed, and
    (given `client`, in allowlist mode) rewrite the container's /etc/hosts block.
    Names that fail to resolve now keep their last addresses."""
    policy = applied.policy
    fresh = resolve(policy, applied.target.bridge.subnets, applied.resolved, lookup=lookup)
    same = (fresh.allowed, fresh.proxy) == (applied.resolved.allowed, applied.resolved.proxy)
    if same or applied.generation is None:
        updated = replace(applied, resolved=fresh, warnings=fresh.warnings)
    else:
        updated = apply(applied.target, policy, nft=nft, resolved=fresh)
    if client is not None and policy.mode == "allowlist":
        hosts.sync(client, applied.container, fresh.names)
    return updated


def remove(container: str, *, nft: Nft | None = None) -> bool:
    """Take every rule of `container` out of the table; False if it had none."""
    nft = nft or Nft()
    with tablelock.changing():
        state = nft.list_table()
        cmds = plan.uninstall(state, container) if state.exists else []
        nft.apply(cmds, f"remove the network rules of {container}")
    return bool(cmds)


def orphans(alive: Iterable[str], *, nft: Nft | None = None,
            now: float | None = None, grace: float = ORPHAN_GRACE) -> list[str]:
    """Containers that have rules but are not in `alive` (pass every container that is
    not stopped: a frozen one keeps its rules), skipping rules applied less than `grace`
    seconds ago: their session may still be starting."""
    state = (nft or Nft()).list_table()
    if not state.exists:
        return []
    keep = set(alive)
    now = time.time() if now is None else now
    young = {name for name in state.containers() for r in state.jumps(name)
             if r.stamp is not None and now - r.stamp < grace}
    return sorted(state.containers() - keep - young)


def clean_orphans(alive: Iterable[str], *, nft: Nft | None = None,
                  grace: float = ORPHAN_GRACE) -> list[str]:
    """Remove the rules `orphans` finds; returns whose."""
    nft = nft or Nft()
    found = orphans(alive, nft=nft, grace=grace)
    for name in found:
        remove(name, nft=nft)
    return found


def prepare_table(*, nft: Nft | None = None) -> bool:
    """Create the shared part of the table (for `coi setup`, as root, so non-root users
    find the base chains there). False if it was complete already."""
    nft = nft or Nft()
    with tablelock.changing():
        cmds = plan.skeleton(nft.list_table())
        nft.apply(cmds, "create table inet coi")
    return bool(cmds)
