"""`coi health` checks for network isolation: what coi's rules need, tried for real.

- `firewall`: nft can change table inet coi as this user (root, or the sudo path), and
  the kernel takes every kind of rule coi writes (the table family, conntrack state,
  both rejects, MAC match, interval and concatenated sets). Tried in a scratch chain
  that no traffic reaches, removed again; as root all in one transaction. Also whether
  the base chains exist or this user may create them.
- `isolation`: the Incus daemon knows the NIC options coi sets (port isolation, a fixed
  host-side name) and, as root, the kernel takes the bridge-family rules Incus writes for
  MAC and IP filtering.

Both take anything with a `client` attribute (coi.host.health_probe.Probe).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Protocol

from coi.errors import CoiError, PolicyError
from coi.host.health import CheckResult, Status, result
from coi.incus.client import Client
from coi.network.nft import Nft
from coi.network.rules import BASE_CHAINS, TABLE, base_chain_spec

SETUP_FIX = "run `sudo coi setup`"
PROBE_CHAIN = "coi-health"
PROBE_RULES = (
    "ether saddr 0e:c0:00:00:00:01 ct state established,related accept",
    "meta l4proto tcp reject with tcp reset",
    "reject with icmpx admin-prohibited",
    "meta l4proto { tcp, udp } ip daddr . th dport { 10.0.0.0/8 . 53 } counter accept",
    "ip6 daddr { fc00::/7, fe80::/10 } counter drop",
    'ct state new tcp dport { 4444, 6666-6697 } limit rate 10/second log prefix '
    '"coi:health:probe " group 65535',
)
EXTENSIONS = ("instance_nic_bridged_port_isolation", "instances_nic_host_name")
BRIDGE_PROBE = (
    "add table bridge coi-health",
    f"add chain bridge coi-health forward {base_chain_spec('forward')}",
    "add rule bridge coi-health forward ether saddr != 0e:c0:00:00:00:01 ip saddr != "
    "10.0.0.1 drop",
    "delete table bridge coi-health",
)


class HasClient(Protocol):
    @property
    def client(self) -> Client: ...


def probe_commands() -> list[str]:
    chain = f"{TABLE} {PROBE_CHAIN}"
    return [f"add table {TABLE}", f"add chain {chain}",
            *(f"add rule {chain} {rule}" for rule in PROBE_RULES),
            f"flush chain {chain}", f"delete chain {chain}"]


def check_firewall(probe: object = None, nft: Nft | None = None) -> CheckResult:
    nft = nft or Nft()
    who = "sudo" if nft.via_sudo else "root"
    try:
        nft.apply(probe_commands(), "try coi's kinds of rules in table inet coi")
        state = nft.list_table()
    except PolicyError as exc:
        return result("firewall", Status.FAIL, exc.message,
                      exc.hint or SETUP_FIX, details={"via": who})
    details = {"via": who, "nft": nft.binary, "base_chains": sorted(BASE_CHAINS)}
    if all(c in state.chains for c in BASE_CHAINS) or not nft.via_sudo:
        return result("firewall", Status.OK, f"nft takes coi's rules (as {who})",
                      details=details)
    if may_create_base_chains(nft):
        return result("firewall", Status.OK, "nft takes coi's rules (through sudo)",
                      details=details)
    return result("firewall", Status.WARN, "coi's base chains are missing and sudo may not "
                  "create them, so restricted sessions will refuse to start",
                  f"{SETUP_FIX} (it creates them; again after each reboot)", details=details)


def may_create_base_chains(nft: Nft) -> bool:
    """`sudo -l` answers whether a command is allowed without running it."""
    hook = "forward"
    words = ["add", "chain", *TABLE.split(), hook, *base_chain_spec(hook).split(" ")]
    out = nft.runner(["sudo", "-n", "-l", nft.binary, *words], "")
    return out.returncode == 0


def check_isolation(probe: HasClient, nft: Nft | None = None) -> CheckResult:
    try:
        known = set(probe.client.server_info().get("api_extensions") or ())
    except CoiError as exc:
        return result("isolation", Status.FAIL, exc.message, SETUP_FIX)
    missing = [e for e in EXTENSIONS if e not in known]
    if missing:
        return result("isolation", Status.FAIL, "the Incus daemon lacks "
                      f"{', '.join(missing)}", "upgrade Incus to 6.0 or newer",
                      details={"missing": missing})
    nft = nft or Nft()
    if os.geteuid() != 0:
        return result("isolation", Status.OK, "Incus supports port isolation and fixed NIC "
                      "names (bridge filtering not tried: needs root)")
    try:
        nft.apply(BRIDGE_PROBE, "try a bridge-family filter rule")
    except PolicyError as exc:
        return result("isolation", Status.FAIL, f"the kernel refuses bridge filtering, which "
                      f"Incus needs for MAC and IP filtering: {exc.message}",
                      "load nf_tables bridge support (modprobe nft_meta_bridge)")
    return result("isolation", Status.OK, "Incus supports port isolation and fixed NIC "
                  "names; the kernel takes bridge filtering rules")


@dataclass(frozen=True)
class ClientProbe:
    client: Client


def health(client: Client) -> list[CheckResult]:
    """Both checks, for callers outside `coi health`."""
    return [check_firewall(), check_isolation(ClientProbe(client))]
