"""The rule text of one container: what it refuses, what it lets through, in which order.

Asserted as meaning, not as golden text: the address sets are read back into networks
and every range that must be blocked has to be covered by a refusal that comes before
any accept that could let it through.
"""

from __future__ import annotations

import ipaddress
import re

import pytest

from coi.network.nic import Bridge, Target
from coi.network.policy import LogSpec, NetworkPolicy, parse_destination
from coi.network.ranges import ALWAYS, LINK_LOCAL, PRIVATE, IPNetwork
from coi.network.resolve import Allowed, Resolved
from coi.network.rules import forward_rules, input_rules

BRIDGE = Bridge.from_config("incusbr0", {"ipv4.address": "10.77.0.1/24",
                                         "ipv6.address": "none"})
BRIDGE6 = Bridge.from_config("incusbr0", {"ipv4.address": "10.77.0.1/24",
                                          "ipv6.address": "fd42:1::1/64"})
TARGET = Target.for_container("coi-abc12345-1", BRIDGE)
SET = re.compile(r"ip6? daddr (?:\{ ([^}]*) \}|(\S+))")
METADATA = [ipaddress.ip_network("169.254.169.254/32"), ipaddress.ip_network("fd00:ec2::254/128")]


def policy(mode: str = "restricted", **kw: object) -> NetworkPolicy:
    return NetworkPolicy(mode=mode, **kw)  # type: ignore[arg-type]


def networks(rule: str) -> list[IPNetwork]:
    match = SET.search(rule)
    if match is None:
        return []
    items = (match.group(1) or match.group(2)).split(", ")
    return [ipaddress.ip_network(i.split(" . ")[0]) for i in items]


def covers(outer: IPNetwork, inner: IPNetwork) -> bool:
    return outer.version == inner.version and (
        int(inner.network_address) >= int(outer.network_address)
        and int(inner.broadcast_address) <= int(outer.broadcast_address))


def refused_by(rules: list[str], net: IPNetwork) -> int | None:
    """Index of the first refusal covering `net`."""
    for i, rule in enumerate(rules):
        if "goto refuse" in rule and any(covers(n, net) for n in networks(rule)):
            return i
    return None


def first_accept(rules: list[str], skip: tuple[str, ...] = ("ct state",)) -> int:
    return next(i for i, r in enumerate(rules) if " accept" in f" {r}"
                and not r.startswith(skip))


def test_restricted_refuses_every_blocked_range_before_the_internet_accept() -> None:
    rules = forward_rules(TARGET, policy(), Resolved())
    assert rules[0] == "ct state established,related accept"
    assert rules[-1] == 'counter accept comment "internet"'
    for net in [*ALWAYS, *PRIVATE, *LINK_LOCAL, *METADATA, *BRIDGE.subnets]:
        index = refused_by(rules, net)
        assert index is not None, f"{net} is not refused"
        assert index < len(rules) - 1


def test_metadata_counts_as_link_local_even_inside_a_private_range() -> None:
    rules = forward_rules(TARGET, policy(), Resolved())
    for net in METADATA:
        assert 'comment "link-local"' in rules[refused_by(rules, net) or 0]


@pytest.mark.parametrize(("private", "link_local"), [(False, True), (True, False),
                                                     (False, False)])
def test_switches_open_their_ranges_but_never_reserved_or_the_bridge(
        private: bool, link_local: bool) -> None:
    rules = forward_rules(TARGET, policy(block_private=private, block_link_local=link_local),
                          Resolved())
    assert (refused_by(rules, ipaddress.ip_network("192.168.1.0/24")) is not None) == private
    assert (refused_by(rules, ipaddress.ip_network("172.16.0.0/12")) is not None) == private
    assert (refused_by(rules, METADATA[0]) is not None) == link_local
    # fd00:ec2::254 is also unique-local, so blocking private ranges covers it too.
    assert (refused_by(rules, METADATA[1]) is not None) == (link_local or private)
    for net in [*ALWAYS, *BRIDGE.subnets]:
        assert refused_by(rules, net) is not None


def test_proxy_is_accepted_before_the_private_refusal() -> None:
    proxy = (Allowed(ipaddress.ip_network("10.1.2.3/32"), (3128,)),)
    rules = forward_rules(TARGET, policy(), Resolved(proxy=proxy))
    proxy_rule = next(i for i, r in enumerate(rules) if 'comment "proxy-port"' in r)
    assert "meta l4proto tcp ip daddr . th dport { 10.1.2.3 . 3128 }" in rules[proxy_rule]
    assert proxy_rule < (refused_by(rules, ipaddress.ip_network("10.1.2.3/32")) or 0)


def test_allowlist_accepts_only_what_was_resolved_and_refuses_the_rest() -> None:
    allowed = (Allowed(ipaddress.ip_network("203.0.113.80/32")),
               Allowed(ipaddress.ip_network("10.123.45.1/32"), (8080, 8443)),
               Allowed(ipaddress.ip_network("2001:db8::/32")))
    rules = forward_rules(TARGET, policy("allowlist"), Resolved(allowed=allowed))
    assert rules[-1] == 'counter goto refuse comment "not-allowed"'
    assert not any(r.startswith("counter accept") for r in rules)
    assert 'ip daddr { 203.0.113.80 } counter accept comment "allowed"' in rules
    assert ("meta l4proto { tcp, udp } ip daddr . th dport { 10.123.45.1 . 8080, "
            '10.123.45.1 . 8443 } counter accept comment "allowed-port"') in rules
    assert 'ip6 daddr { 2001:db8::/32 } counter accept comment "allowed"' in rules
    # Link-local (metadata) and reserved ranges stay refused, before any allow.
    for net in [*METADATA, *ALWAYS]:
        assert (refused_by(rules, net) or 99) < first_accept(rules)


def test_allowlist_with_nothing_resolved_refuses_everything() -> None:
    rules = forward_rules(TARGET, policy("allowlist"), Resolved())
    assert [r for r in rules if "accept" in r and not r.startswith("ct state")] == []


def test_input_allows_dhcp_and_gateway_dns_then_refuses_the_host() -> None:
    rules = input_rules(TARGET, policy(), Resolved())
    assert rules[0] == "ct state established,related accept"
    assert ('udp sport 68 udp dport 67 ip daddr { 10.77.0.1, 255.255.255.255 } counter '
            'accept comment "dhcp"') in rules
    assert ('ip daddr { 10.77.0.1 } meta l4proto { tcp, udp } th dport 53 counter accept '
            'comment "dns"') in rules
    assert rules[-1] == 'counter goto refuse comment "host"'
    assert not any("ndp" in r or "ip6" in r for r in rules)  # the bridge has no IPv6


def test_allowlist_input_has_no_dns() -> None:
    rules = input_rules(TARGET, policy("allowlist"), Resolved())
    assert not any("dport 53" in r for r in rules)
    assert any('"dhcp"' in r for r in rules)


def test_ipv6_bridge_gets_neighbour_discovery_dhcp6_and_v6_dns() -> None:
    rules = input_rules(Target.for_container("c", BRIDGE6), policy(), Resolved())
    assert any('comment "ndp"' in r for r in rules)
    assert any("ip6 daddr { fd42:1::1 } meta l4proto { tcp, udp } th dport 53" in r
               for r in rules)
    forward = forward_rules(Target.for_container("c", BRIDGE6), policy(), Resolved())
    assert refused_by(forward, ipaddress.ip_network("fd42:1::/64")) is not None


def test_open_mode_only_counts() -> None:
    target, empty = TARGET, Resolved()
    assert forward_rules(target, policy("open"), empty) == ['counter accept comment "open"']
    assert input_rules(target, policy("open"), empty) == ['counter accept comment "open"']


def test_logging_is_a_separate_rule_in_front_of_each_refusal() -> None:
    rules = forward_rules(TARGET, policy(log=LogSpec(group=7, rate=50)), Resolved())
    refusals = [i for i, r in enumerate(rules) if "goto refuse" in r]
    assert refusals
    for i in refusals:
        log = rules[i - 1]
        assert "limit rate 50/second log prefix" in log and log.endswith("group 7")
        assert "goto" not in log and "accept" not in log  # a log rule never decides
        assert networks(log) == networks(rules[i])
    assert 'log prefix "coi:coi-abc12345-1:private "' in "\n".join(rules)


def test_rule_text_has_no_characters_sudo_would_refuse() -> None:
    resolved = Resolved(allowed=(Allowed(ipaddress.ip_network("2001:db8::1/128"), (443,)),),
                        proxy=(Allowed(ipaddress.ip_network("10.1.2.3/32"), (3128,)),))
    for mode in ("restricted", "allowlist", "open"):
        p = policy(mode, log=LogSpec(1))
        for rule in [*forward_rules(TARGET, p, resolved), *input_rules(TARGET, p, resolved)]:
            assert re.fullmatch(r'[a-zA-Z0-9 ._/{}@<>=!",:-]+', rule), rule
            assert "  " not in rule


def test_destination_parsing_feeds_rules() -> None:
    dest = parse_destination("10.0.0.0/8:443")
    rules = forward_rules(TARGET, policy("allowlist"),
                          Resolved(allowed=(Allowed(dest.network, dest.ports),)))  # type: ignore[arg-type]
    assert any("{ 10.0.0.0/8 . 443 }" in r for r in rules)


LOG = LogSpec(group=7, rate=50)


def log_only(rule: str) -> bool:
    return " log prefix " in rule and not any(
        v in rule.split() for v in ("accept", "drop", "goto", "jump", "reject"))


@pytest.mark.parametrize("mode", ["restricted", "allowlist", "open"])
def test_monitor_log_rules_never_decide(mode: str) -> None:
    resolved = Resolved(allowed=(Allowed(ipaddress.ip_network("1.2.3.4/32"), ()),))
    logged = policy(mode, log=LOG)
    for build in (forward_rules, input_rules):
        plain = build(TARGET, policy(mode), resolved)
        rules = build(TARGET, logged, resolved)
        # Without the log-only rules, what is left is exactly the unlogged chain.
        assert [r for r in rules if not log_only(r)] == plain
        logs = [r for r in rules if log_only(r)]
        assert all("limit rate 50/second" in r and r.endswith("group 7") for r in logs)
        assert rules[-1] == plain[-1]  # still ends in its verdict


def test_watch_rules_suspicious_ports_dns_and_new_connections() -> None:
    rules = forward_rules(TARGET, policy(log=LOG), Resolved())
    text = "\n".join(rules)
    suspicious = next(r for r in rules if ":suspicious-port " in r)
    assert suspicious.startswith("ct state new tcp dport { 1234, 4444, 5555, 6666-6697, "
                                 "12345, 31337 }")
    udp_dns = rules.index(next(r for r in rules if r.startswith("udp dport 53 ")))
    assert udp_dns < rules.index("ct state established,related accept")  # every query
    assert "ct state new tcp dport 53 limit" in text
    conn = rules.index(next(r for r in rules if ":conn " in r))
    assert conn == len(rules) - 2 and rules[conn].startswith("ct state new limit")
    assert all(rules.index(r) < conn for r in rules if "goto refuse" in r)
    quiet = forward_rules(TARGET, policy(log=LogSpec(7, dns=False)), Resolved())
    assert not any(":dns " in r for r in quiet)


def test_open_mode_logs_then_accepts() -> None:
    rules = forward_rules(TARGET, policy("open", log=LOG), Resolved())
    assert rules[-1] == 'counter accept comment "open"'
    reasons = [r.split(f"coi:{TARGET.container}:")[1].split()[0] for r in rules[:-1]]
    assert reasons == ["dns", "suspicious-port", "dns", "conn"]
    assert input_rules(TARGET, policy("open", log=LOG), Resolved()) == rules


def test_log_group_must_be_chosen_first() -> None:
    with pytest.raises(ValueError):
        forward_rules(TARGET, policy(log=LogSpec()), Resolved())
