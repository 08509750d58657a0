"""Resolving allowlist and proxy names on the host (with a fake resolver)."""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Sequence

from coi.network.policy import NetworkPolicy, parse_destination, parse_proxy
from coi.network.resolve import Allowed, lookup_all, resolve

BRIDGE = (ipaddress.ip_network("10.77.0.0/24"),)
ANSWERS = {
    "api.example.com": ["203.0.113.10", "2001:db8::10"],
    "cdn.example.com": ["203.0.113.20"],
    "intranet.example.com": ["10.1.2.3", "203.0.113.30"],
    "meta.example.com": ["169.254.169.254"],
    "proxy.corp": ["10.9.9.9"],
}


def fake(host: str) -> Sequence[str]:
    if host not in ANSWERS:
        raise OSError(f"no such host {host}")
    return ANSWERS[host]


def allowlist(*entries: str, block_private: bool = True) -> NetworkPolicy:
    return NetworkPolicy(mode="allowlist", block_private=block_private,
                         allowlist=tuple(parse_destination(e) for e in entries))


def nets(resolved_allowed: tuple[Allowed, ...]) -> set[tuple[str, tuple[int, ...]]]:
    return {(str(a.network), a.ports) for a in resolved_allowed}


def test_names_become_addresses_and_literals_pass_through() -> None:
    policy = allowlist("api.example.com:443", "cdn.example.com", "10.5.0.0/16", "8.8.8.8:53")
    resolved = resolve(policy, BRIDGE, lookup=fake)
    assert nets(resolved.allowed) == {
        ("203.0.113.10/32", (443,)), ("2001:db8::10/128", (443,)),
        ("203.0.113.20/32", ()), ("10.5.0.0/16", ()), ("8.8.8.8/32", (53,))}
    assert resolved.names == {"api.example.com": ("203.0.113.10", "2001:db8::10"),
                              "cdn.example.com": ("203.0.113.20",)}
    assert resolved.warnings == ()


def test_a_name_resolving_into_a_blocked_range_is_skipped_and_reported() -> None:
    resolved = resolve(allowlist("intranet.example.com", "meta.example.com"), BRIDGE,
                       lookup=fake)
    assert nets(resolved.allowed) == {("203.0.113.30/32", ())}
    assert len(resolved.skipped) == 2
    assert any("10.1.2.3" in s for s in resolved.skipped)
    assert any("169.254.169.254" in s for s in resolved.skipped)


def test_private_answers_are_kept_when_private_ranges_are_not_blocked() -> None:
    resolved = resolve(allowlist("intranet.example.com", block_private=False), BRIDGE,
                       lookup=fake)
    assert ("10.1.2.3/32", ()) in nets(resolved.allowed)


def test_unresolvable_names_are_reported() -> None:
    resolved = resolve(allowlist("nowhere.example.com", "cdn.example.com"), BRIDGE,
                       lookup=fake)
    assert resolved.unresolved == ("nowhere.example.com",)
    assert resolved.warnings == ("could not resolve nowhere.example.com",)


def test_a_failing_name_keeps_its_previous_addresses() -> None:
    policy = allowlist("cdn.example.com")
    first = resolve(policy, BRIDGE, lookup=fake)

    def broken(host: str) -> Sequence[str]:
        raise OSError("temporary failure in name resolution")

    second = resolve(policy, BRIDGE, previous=first, lookup=broken)
    assert second.allowed == first.allowed
    assert second.unresolved == ()


def test_proxy_is_resolved_in_restricted_mode_and_allowlist_is_not() -> None:
    policy = NetworkPolicy(allowlist=(parse_destination("api.example.com"),),
                           proxy=parse_proxy("http://proxy.corp:3128"))
    seen: list[str] = []

    def spy(host: str) -> Sequence[str]:
        seen.append(host)
        return fake(host)

    resolved = resolve(policy, BRIDGE, lookup=spy)
    assert seen == ["proxy.corp"]
    assert resolved.allowed == ()
    assert nets(resolved.proxy) == {("10.9.9.9/32", (3128,))}  # private, but named by the user


def test_lookups_run_in_parallel_under_one_deadline() -> None:
    def slow(host: str) -> Sequence[str]:
        time.sleep(5 if host == "hang.example" else 0.2)
        return ["203.0.113.1"]

    started = time.monotonic()
    found = lookup_all([f"h{i}.example" for i in range(8)] + ["hang.example"], slow,
                       timeout=0.6)
    assert time.monotonic() - started < 1.5
    assert len(found) == 8 and "hang.example" not in found
