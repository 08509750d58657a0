"""The nftables rules of one container, as text: pure functions, no nft here.

Each container gets two regular chains in `table inet coi`, reached from the base chains
by its MAC: `f<gen>-<name>` for what it sends through the host (forward hook) and
`i<gen>-<name>` for what it sends to the host itself (input hook: every host address,
the bridge gateway included). Every chain ends in a verdict, so a jump never falls
through to the next container's rules. Refusals go to the shared chain `refuse`: a TCP
reset for TCP, ICMP administratively-prohibited for the rest, so a blocked connect fails
at once instead of timing out. Every refusal and accept counts (`counter`), and each rule
has a comment naming its reason, which is how checks and the monitor find it.

With a LogSpec (the monitor on), log-only rules feed nflog: one before each refusal,
UDP DNS queries before the established-traffic accept, new connections to suspicious
ports and new TCP DNS connections after it, and new connections in front of the final
accepts. A log rule has no verdict and its own `limit`, so logging never changes what
is accepted or refused. Prefixes are `coi:<container>:<reason> `.

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
SUSPICIOUS = "suspicious-port"
DNS = "dns"
CONN = "conn"
# Destination ports reverse shells and C2 often use (netcat/metasploit defaults, IRC).
SUSPICIOUS_PORTS = ("1234", "4444", "5555", "6666-6697", "12345", "31337")

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


def log_rule(match: str, reason: str, container: str, log: LogSpec) -> str:
    """A rule that only logs (rate-limited) what `match` matches: no verdict, so a
    packet goes on to the next rule whatever the limit does."""
    if log.group is None:
        raise ValueError("LogSpec.group must be chosen before rules are written")
    prefix = f"{match} " if match else ""
    return (f"{prefix}limit rate {log.rate}/second "
            f'log prefix "coi:{container}:{reason} " group {log.group}')


def refuse(match: str, reason: str, container: str, log: LogSpec | None) -> list[str]:
    """Count and refuse what `match` matches. Logging is a rule of its own: a `limit`
    that stops matching must never keep the refusal from happening."""
    prefix = f"{match} " if match else ""
    rules = [] if log is None else [log_rule(match, reason, container, log)]
    rules.append(f'{prefix}counter goto {REFUSE} comment "{reason}"')
    return rules


def dns_log(container: str, log: LogSpec | None) -> list[str]:
    """Every DNS query over UDP, logged before the established-traffic accept so that
    queries on one socket count one by one (the monitor counts their rate)."""
    return [log_rule("udp dport 53", DNS, container, log)] if log and log.dns else []


def watch_logs(container: str, log: LogSpec | None) -> list[str]:
    """New connections to suspicious ports, and new DNS connections over TCP."""
    if log is None:
        return []
    rules = [log_rule(f"ct state new tcp dport {_set(SUSPICIOUS_PORTS)}", SUSPICIOUS,
                      container, log)]
    if log.dns:
        rules.append(log_rule("ct state new tcp dport 53", DNS, container, log))
    return rules


def conn_log(container: str, log: LogSpec | None) -> list[str]:
    """Every new connection that gets this far (placed in front of the accepts, after
    the refusals, which log themselves)."""
    return [] if log is None else [log_rule("ct state new", CONN, container, log)]


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


def open_rules(container: str, log: LogSpec | None) -> list[str]:
    """Open mode: everything is accepted (and, with `log`, watched)."""
    return [*dns_log(container, log), *watch_logs(container, log), *conn_log(container, log),
            'counter accept comment "open"']


def forward_rules(target: Target, policy: NetworkPolicy, resolved: Resolved) -> list[str]:
    """What the container may reach through the host."""
    name, log = target.container, policy.log
    if policy.mode == "open":
        return open_rules(name, log)
    rules = [*dns_log(name, log), *ESTABLISHED, *watch_logs(name, log)]
    rules += accept(resolved.proxy, "proxy", tcp_only=True)
    rules += refuse_ranges([*ALWAYS, *target.bridge.subnets], "reserved", name, log)
    if policy.block_link_local:
        rules += refuse_ranges(LINK_LOCAL, "link-local", name, log)
    if policy.mode == "allowlist":
        rules += [*conn_log(name, log), *accept(resolved.allowed, "allowed")]
        return [*rules, *refuse("", NOT_ALLOWED, name, log)]
    if policy.block_private:
        rules += refuse_ranges(PRIVATE, "private", name, log)
    return [*rules, *conn_log(name, log), 'counter accept comment "internet"']


def input_rules(target: Target, policy: NetworkPolicy, resolved: Resolved) -> list[str]:
    """What the container may send to the host: DHCP, DNS on the gateway (not in
    allowlist mode, where the host resolves for it), the proxy; nothing else."""
    name, log = target.container, policy.log
    if policy.mode == "open":
        return open_rules(name, log)
    bridge = target.bridge
    rules = [*dns_log(name, log), *ESTABLISHED]
    dhcp_to = _set([*bridge.gateway4, "255.255.255.255"])
    rules.append(f'udp sport 68 udp dport 67 ip daddr {dhcp_to} counter accept comment "dhcp"')
    if bridge.gateway6:
        rules.append(f'{NDP} counter accept comment "ndp"')
        rules.append('udp dport 547 ip6 daddr ff02::1:2 counter accept comment "dhcp6"')
    rules += watch_logs(name, log)
    if policy.mode == "restricted":
        for family, gateways in (("ip", bridge.gateway4), ("ip6", bridge.gateway6)):
            if gateways:
                rules.append(f"{family} daddr {_set(gateways)} meta l4proto {{ tcp, udp }} "
                             'th dport 53 counter accept comment "dns"')
    rules += accept(resolved.proxy, "proxy", tcp_only=True)
    return [*rules, *refuse("", HOST_REFUSED, name, log)]
