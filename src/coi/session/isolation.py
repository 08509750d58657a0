"""A session container's isolation: profile check, NIC, protected paths, network rules.

The order, for a new container and for every start of a reused (persistent) one:

  prepare()  refuse a profile that undoes isolation; the NIC (coi's MAC and options),
             the protected workspace device and the limits' root device, for the
             container's definition (create request or reconfigure PUT);
  engage()   the protected-path mounts and the nftables rules, BEFORE the start, so the
             container never runs unprotected or unfiltered;
  prove()    right after the start, from inside: the network proof and the check that
             protected paths are locked read-only (PolicyError: the caller closes the
             container as an interrupted session, fail closed);
  release()  once the container is stopped or deleted (never while it runs): its rules
             removed, its mounts undone, untouched placeholders removed;
  sweep()    `coi clean`: the same for containers whose session is gone.

docs/network.md and docs/security.md describe the pieces; docs/sessions.md the order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from coi import limits
from coi.config.model import Network
from coi.errors import PolicyError
from coi.network.policy import LogSpec, NetworkPolicy
from coi.session.paths import WORKSPACE

if TYPE_CHECKING:
    from coi.incus.client import Client
    from coi.network.firewall import Applied
    from coi.network.nic import Target
    from coi.security.protect import ProtectionPlan
    from coi.session.plan import SessionPlan

PROFILES = ("default",)  # what the create request uses (no `profiles` key)


@dataclass(frozen=True)
class Guard:
    """What isolates one container: its rules' target and policy, its protection plan,
    and the devices and config keys its definition carries."""

    container: str
    target: Target
    policy: NetworkPolicy
    protection: ProtectionPlan
    devices: dict[str, dict[str, str]]
    config: dict[str, str]


@dataclass(frozen=True)
class Engaged:
    guard: Guard
    applied: Applied

    @property
    def warnings(self) -> tuple[str, ...]:
        return self.applied.warnings


def prepare(client: Client, plan: SessionPlan, name: str) -> Guard:
    """The guard for container `name` (nothing on the host changes yet)."""
    from coi.network.nic import Target, bridge, find_nic, nic_device
    from coi.security import credentials, protect

    devices = _profile_devices(credentials.check_profiles(client, PROFILES))
    dev, base = find_nic(devices)
    network = base.get("network") or base.get("parent", "")
    target = Target.for_container(name, bridge(client, network), client.project)
    protection = protect.plan(Path(plan.workspace), plan.config, name,
                              writable_git_hooks=plan.flags.writable_git_hooks)
    own = {dev: nic_device(base, name, client.project),
           "workspace": protection.workspace_device(WORKSPACE)}
    root = limits.root_device(plan.config.limits, devices.get("root", {}).get("pool", ""))
    if root is not None:
        own["root"] = root
    return Guard(name, target, plan.network_policy, protection, own,
                 limits.instance_config(plan.config.limits))


def _profile_devices(profiles: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, str]]:
    """The profiles' devices as the container gets them (a later profile wins)."""
    devices: dict[str, dict[str, str]] = {}
    for profile in profiles:
        devices.update({k: dict(v) for k, v in (profile.get("devices") or {}).items()})
    return devices


def engage(guard: Guard, coi_home: Path) -> Engaged:
    """Mount the protected paths and install the rules; undone again if either fails."""
    from coi.network import firewall
    from coi.security import protect

    protect.apply(guard.protection, coi_home)
    try:
        return Engaged(guard, firewall.apply(guard.target, guard.policy))
    except BaseException:
        release(coi_home, guard.container)
        raise


def prove(client: Client, engaged: Engaged) -> None:
    """PolicyError unless the network policy and the protected paths hold inside."""
    from coi.network.proof import verify as verify_network
    from coi.security.verify import verify as verify_protection

    verify_network(client, engaged.applied)
    verify_protection(client, engaged.guard.container, engaged.guard.protection)


def release(coi_home: Path, container: str) -> list[str]:
    """Remove `container`'s rules and undo its protection (it must not be running).
    Returns notes for the user: what could not be undone, placeholders kept."""
    from coi.network import firewall
    from coi.security import protect

    notes: list[str] = []
    try:
        firewall.remove(container)
    except PolicyError as exc:
        notes.append(f"network rules of {container} not removed: {exc.message}")
    try:
        released = protect.release(coi_home, container)
    except (PolicyError, OSError) as exc:
        notes.append(f"protected paths of {container} not released: {exc}")
        return notes
    notes += [f"kept {rel} in the workspace: a placeholder coi created for protection "
              "that now has content, or that another session of this workspace still "
              "uses" for rel in released.kept]
    return notes


@dataclass
class Swept:
    rules_removed: list[str] = field(default_factory=list)
    protections_released: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def sweep(client: Client, coi_home: Path) -> Swept:
    """For `coi clean`: rules of containers that are not running (frozen counts as
    running), and protections of containers that are not running and that no coi
    process is starting (their run lock is free)."""
    from coi.incus.instances import list_instances
    from coi.network import firewall
    from coi.security import protect
    from coi.session.runlock import is_supervised

    alive = {i.name for i in list_instances(client, "", with_state=False)
             if i.status not in ("Stopped", "Error")}
    swept = Swept()
    try:
        swept.rules_removed = firewall.clean_orphans(alive)
    except PolicyError as exc:
        swept.notes.append(f"network rules not checked: {exc.message}")
    live = alive | {n for n in protect.recorded(coi_home) if is_supervised(coi_home, n)}
    for name in protect.orphans(coi_home, live):
        swept.notes += release(coi_home, name)
        swept.protections_released.append(name)
    return swept


# -- the supervisor's refresh --------------------------------------------------------


def network_spec(policy_config: Network, tool_domains: Iterable[str], bridge: str,
                 log: LogSpec | None = None) -> str:
    """What the supervisor needs to rebuild the policy (it reads no config), as JSON.
    `log` is the session policy's LogSpec (`plan.network_policy.log`), so a re-apply by
    the supervisor keeps the monitor's log rules (and their group)."""
    return msgspec.json.encode({"network": policy_config, "tools": list(tool_domains),
                                "bridge": bridge, "log": log and {
                                    "group": log.group, "rate": log.rate, "dns": log.dns},
                                }).decode()


def policy_from_spec(spec: str) -> tuple[NetworkPolicy, str]:
    """The policy and bridge name a `network_spec` describes."""
    data = msgspec.json.decode(spec)
    network = msgspec.convert(data["network"], Network)
    log = data.get("log")
    policy = NetworkPolicy.from_config(network, data["tools"], log=log and LogSpec(
        group=log["group"], rate=log["rate"], dns=log["dns"]))
    return policy, data["bridge"]


def expected_rules(client: Client, spec: str, container: str, project: str) -> Applied:
    """What `firewall.apply` installs for this session now (for `integrity.check`),
    from its `network_spec`: the log group the container's live rules use (or would
    get), hostnames resolved on the host (allowlist mode: a changed answer shows as a
    difference, and the repair then installs the fresh addresses)."""
    from coi.network import firewall
    from coi.network.nft import Nft
    from coi.network.nic import Target, bridge
    from coi.network.resolve import resolve
    from coi.network.rules import forward_rules, input_rules

    policy, bridge_name = policy_from_spec(spec)
    target = Target.for_container(container, bridge(client, bridge_name), project)
    state = Nft().list_table()
    policy = firewall.with_log_group(policy, state, container)
    resolved = resolve(policy, target.bridge.subnets)
    generation = state.generation(container)
    if generation is None:
        generation = 0 if state.exists or policy.filtered else None
    return firewall.Applied(target, policy, resolved,
                            tuple(forward_rules(target, policy, resolved)),
                            tuple(input_rules(target, policy, resolved)), generation, 0.0,
                            resolved.warnings)


@dataclass
class Refresher:
    """Re-resolves allowlist (and proxy) hostnames for a running session. The first
    tick re-applies the rules (a generation swap: the supervisor is another process
    and has no `Applied` of its own); later ticks only change what changed."""

    container: str
    project: str
    policy: NetworkPolicy
    bridge: str
    applied: Applied | None = None

    @classmethod
    def from_spec(cls, spec: str, container: str, project: str) -> Refresher | None:
        """None when nothing needs refreshing (no hostnames to resolve)."""
        if not spec:
            return None
        policy, bridge_name = policy_from_spec(spec)
        if not policy.hostnames:
            return None
        return cls(container, project, policy, bridge_name)

    @property
    def seconds(self) -> float:
        return self.policy.refresh_seconds

    def tick(self, client: Client) -> tuple[str, ...]:
        """One refresh; returns its warnings. CoiError when it could not be done."""
        from coi.network import firewall, hosts
        from coi.network.nic import Target, bridge

        if self.applied is None:
            target = Target.for_container(self.container, bridge(client, self.bridge),
                                          self.project)
            self.applied = firewall.apply(target, self.policy)
            if self.policy.mode == "allowlist":
                hosts.sync(client, self.container, self.applied.resolved.names)
        else:
            self.applied = firewall.refresh(self.applied, client=client)
        return self.applied.warnings

