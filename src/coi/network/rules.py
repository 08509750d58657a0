"""The nftables rules of one container, as text: pure functions, no nft here.

Each container gets two regular chains in `table inet coi`, reached from the base chains
by its MAC: `f<gen>-<name>` for what it sends through the host (forward hook) and
`i<gen>-<name>` for what it sends to the host itself (input hook: every host address,
the bridge gateway included). Every chain ends in a verdict, so a jump never falls
through to the next container's rules. Refusals go to the shared chain `refuse`: a TCP
reset for TCP, ICMP administratively-prohibited for the rest, so a blocked connect fails
at once instead of timing out. Every refusal and accept counts (`counter`), and each rule
has a comment naming its reason, which is how checks and the monitor find it.

Text only uses characters the sudoers entry allows (no `;`, no newline, no `#`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from coi.network.nic import MAC_RANGE, Target
from coi.network.policy import LogSpec, NetworkPolicy
from coi.network.ranges import ALWAYS, LINK_LOCAL, PRIVATE, IPNetwork, element, split
from coi.network.resolve import Allowed, Resolved

TABLE = "inet coi"
REFUSE = "refuse"
BASE_CHAINS = {"forward": "forward", "input": "input"}  # base chain name -> hook
UNREGISTERED = "unregistered"
HOST_REFUSED = "host"
NOT_ALLOWED = "not-allowed"

REFUSE_RULES = (
    "meta l4proto tcp reject with tcp reset",
    "reject with icmpx admin-prohibited",
)
ESTABLISHED = ("ct state established,related accept", "ct state invalid drop")
NDP = "icmpv6 type { nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert }"


def base_chain_spec(hook: str) -> str:
    return f"{{ type filter hook {hook} priority filter ; }}"


def catch_all() -> str:
    """Refuse every coi container (by MAC prefix) that has no chain of its own."""
    low, high = MAC_RANGE
    return f'ether saddr {low}-{high} counter goto {REFUSE} comment "{UNREGISTERED}"'


def chain_names(container: str, generation: int) -> tuple[str, str]:
    return f"f{generation}-{container}", f"i{generation}-{container}"


def _set(items: Iterable[str]) -> str:
    return "{ " + ", ".join(items) + " }"


def refuse(match: str, reason: str, container: str, log: LogSpec | None) -> list[str]:
    """Count and refuse what `match` matches. Logging is a rule of its own: a `limit`
    that stops matching must never keep the refusal from happening."""
    prefix = f"{match} " if match else ""
    rules = []
    if log is not None:
        rules.append(f"{prefix}limit rate {log.rate}/second "
                     f'log prefix "coi:{container}:{reason} " group {log.group}')
    rules.append(f'{prefix}counter goto {REFUSE} comment "{reason}"')
    return rules


def refuse_ranges(ranges: Iterable[IPNetwork], reason: str, container: str,
                  log: LogSpec | None) -> list[str]:
    v4, v6 = split(ranges)
    rules = []
    for family, elements in (("ip", v4), ("ip6", v6)):
        if elements:
            rules += refuse(f"{family} daddr {_set(elements)}", reason, container, log)
    return rules


def accept(allowed: Sequence[Allowed], reason: str, tcp_only: bool = False) -> list[str]:
    """Accept these destinations: whole addresses in one rule per family, address and
    port pairs in another (TCP and UDP, or TCP only)."""
    proto = "tcp" if tcp_only else "{ tcp, udp }"
    rules = []
    for family, version in (("ip", 4), ("ip6", 6)):
        mine = [a for a in allowed if a.network.version == version]
        whole = sorted({element(a.network) for a in mine if not a.ports})
        pairs = sorted({f"{element(a.network)} . {p}" for a in mine for p in a.ports})
        if whole:
            rules.append(f'{family} daddr {_set(whole)} counter accept comment "{reason}"')
        if pairs:
            rules.append(f"meta l4proto {proto} {family} daddr . th dport {_set(pairs)} "
                         f'counter accept comment "{reason}-port"')
    return rules


def forward_rules(target: Target, policy: NetworkPolicy, resolved: Resolved) -> list[str]:
    """What the container may reach through the host."""
    name, log = target.container, policy.log
    if policy.mode == "open":
        return ['counter accept comment "open"']
    rules = [*ESTABLISHED, *accept(resolved.proxy, "proxy", tcp_only=True)]
    rules += refuse_ranges([*ALWAYS, *target.bridge.subnets], "reserved", name, log)
    if policy.block_link_local:
        rules += refuse_ranges(LINK_LOCAL, "link-local", name, log)
    if policy.mode == "allowlist":
        rules += accept(resolved.allowed, "allowed")
        return [*rules, *refuse("", NOT_ALLOWED, name, log)]
    if policy.block_private:
        rules += refuse_ranges(PRIVATE, "private", name, log)
    return [*rules, 'counter accept comment "internet"']


def input_rules(target: Target, policy: NetworkPolicy, resolved: Resolved) -> list[str]:
    """What the container may send to the host: DHCP, DNS on the gateway (not in
    allowlist mode, where the host resolves for it), the proxy; nothing else."""
    if policy.mode == "open":
        return ['counter accept comment "open"']
    bridge = target.bridge
    rules = [*ESTABLISHED]
    dhcp_to = _set([*bridge.gateway4, "255.255.255.255"])
    rules.append(f'udp sport 68 udp dport 67 ip daddr {dhcp_to} counter accept comment "dhcp"')
    if bridge.gateway6:
        rules.append(f'{NDP} counter accept comment "ndp"')
        rules.append('udp dport 547 ip6 daddr ff02::1:2 counter accept comment "dhcp6"')
    if policy.mode == "restricted":
        for family, gateways in (("ip", bridge.gateway4), ("ip6", bridge.gateway6)):
            if gateways:
                rules.append(f"{family} daddr {_set(gateways)} meta l4proto {{ tcp, udp }} "
                             'th dport 53 counter accept comment "dns"')
    rules += accept(resolved.proxy, "proxy", tcp_only=True)
    return [*rules, *refuse("", HOST_REFUSED, target.container, policy.log)]
