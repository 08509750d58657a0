"""Prove at session start, from inside the container, that its policy is in force.

Three checks, any failure a PolicyError (the session must not start):

1. the NIC: coi's MAC (the one the rules key on) and the isolation options;
2. the table: both base chains send this MAC to this generation's chains, which hold
   the rules `apply` made, and the catch-all for rule-less coi containers is there;
3. the probe: the container opens a TCP connection to the bridge gateway on a port its
   rules refuse (port 1; in allowlist mode port 53, so the probe also shows DNS is
   closed). It must fail at once, and the counter of the container's own refusal rule
   must have gone up: a port that is merely closed would also refuse, but would not
   count, and a timeout means something else dropped it. The target is the host itself,
   so the probe cannot leave the machine whatever the rules.

In allowlist mode the container's /etc/hosts is brought up to date first (see hosts).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from coi.errors import PolicyError
from coi.incus import exec as incus_exec
from coi.incus import instances
from coi.incus.client import Client
from coi.network import hosts
from coi.network.firewall import Applied
from coi.network.nft import Nft
from coi.network.nic import NIC_SECURITY, find_nic
from coi.network.rules import BASE_CHAINS, HOST_REFUSED, UNREGISTERED, chain_names
from coi.network.table import TableState

PROBE_TIMEOUT = 2  # seconds; a refusal takes a millisecond
TIMED_OUT = 124  # what `timeout` exits with
NOT_EXECUTABLE, NOT_FOUND = 126, 127
ADDRESS_TIMEOUT = 30.0  # seconds for DHCP to give the container its IPv4 address


@dataclass(frozen=True)
class Proof:
    container: str
    mode: str
    probe: str  # "" in open mode (nothing to prove but the NIC)
    seconds: float


def verify(client: Client, applied: Applied, *, nft: Nft | None = None) -> Proof:
    """Prove `applied` is in force for its (started) container, or raise PolicyError."""
    started = time.monotonic()
    name, policy = applied.container, applied.policy
    check_nic(client, applied)
    if not policy.filtered:
        return Proof(name, policy.mode, "", time.monotonic() - started)
    if policy.mode == "allowlist":
        hosts.sync(client, name, applied.resolved.names)
    nft = nft or Nft()
    before = refusals(check_rules(nft.list_table(), applied), applied)
    wait_for_address(client, name)
    probe = run_probe(client, applied)
    if refusals(nft.list_table(), applied) <= before:
        raise _failed(name, f"the refusal of {probe} did not come from coi's rules")
    return Proof(name, policy.mode, probe, time.monotonic() - started)


def run_probe(client: Client, applied: Applied) -> str:
    """Connect from inside to a port the rules refuse; it must fail at once."""
    name = applied.container
    host, port = probe_target(applied)
    result = incus_exec.run(client, name, [
        "timeout", str(PROBE_TIMEOUT), "bash", "-c", f"exec 3<>/dev/tcp/{host}/{port}",
    ], timeout=PROBE_TIMEOUT + 10)
    probe = f"{host}:{port}"
    if result.exit_code in (NOT_EXECUTABLE, NOT_FOUND):
        raise _failed(name, "the probe could not run in it (it needs bash and timeout)",
                      "use an image built by `coi build`")
    if result.exit_code == 0:
        raise _failed(name, f"it could connect to {probe}, which its rules refuse")
    if result.exit_code == TIMED_OUT:
        raise _failed(name, f"a connection to {probe} timed out instead of being refused")
    return probe


def wait_for_address(client: Client, name: str, timeout: float = ADDRESS_TIMEOUT) -> None:
    """The probe needs the container's IPv4 address (DHCP, under the new rules)."""
    deadline = time.monotonic() + timeout
    while not instances.state(client, name).ipv4:
        if time.monotonic() > deadline:
            raise _failed(name, f"it got no IPv4 address within {timeout:.0f} s (is DHCP "
                          "refused?)")
        time.sleep(0.1)


def probe_target(applied: Applied) -> tuple[str, int]:
    port = 53 if applied.policy.mode == "allowlist" else 1
    return applied.target.bridge.gateway4[0], port


def check_nic(client: Client, applied: Applied) -> None:
    inst = instances.get(client, applied.container)
    dev, nic = find_nic(inst.expanded_devices)
    mac = nic.get("hwaddr") or inst.expanded_config.get(f"volatile.{dev}.hwaddr", "")
    if mac.lower() != applied.target.mac:
        raise _failed(applied.container, f"its NIC has MAC {mac or 'none'}, not "
                      f"{applied.target.mac} that its rules are keyed on",
                      "create it with coi.network.nic_device()")
    missing = [k for k, v in NIC_SECURITY.items() if nic.get(k) != v]
    if missing:
        raise _failed(applied.container, f"its NIC {dev} lacks {', '.join(missing)}",
                      "create it with coi.network.nic_device()")


def check_rules(state: TableState, applied: Applied) -> TableState:
    """The table holds exactly what `apply` installed for this container."""
    name = applied.container
    gen = applied.generation
    chains = chain_names(name, gen if gen is not None else 0)
    jumps = {(r.chain, r.target, r.mac) for r in state.jumps(name)}
    for (base, chain), rules in zip(zip(BASE_CHAINS, chains, strict=True),
                                    (applied.forward, applied.inputs), strict=True):
        if (base, chain, applied.target.mac) not in jumps:
            raise _failed(name, f"no rule sends its traffic to {chain} in chain {base}")
        if len(state.rules_in(chain)) != len(rules):
            raise _failed(name, f"chain {chain} holds {len(state.rules_in(chain))} rules, "
                          f"not the {len(rules)} coi installed")
        if state.find(base, UNREGISTERED) is None:
            raise _failed(name, f"chain {base} lacks the rule refusing unknown coi MACs")
    return state


def refusals(state: TableState, applied: Applied) -> int:
    chain = chain_names(applied.container, applied.generation or 0)[1]
    rule = state.find(chain, HOST_REFUSED)
    if rule is None:
        raise _failed(applied.container, f"chain {chain} has no refusal rule")
    return rule.packets


def _failed(container: str, why: str, hint: str | None = None) -> PolicyError:
    return PolicyError(f"the network policy of {container} is not in force: {why}",
                       hint=hint or "run `coi health`; see docs/network.md")
