"""Network findings from logged packets."""

from __future__ import annotations

import json

import pytest

from coi.monitor.findings import Severity
from coi.monitor.netevents import DnsRate, classify
from coi.monitor.nflog import NetEvent


def ev(reason: str, dst: str, dport: int | None = 443, family: int = 4,
       proto: str = "tcp") -> NetEvent:
    src = "10.77.0.5" if family == 4 else "fd42::5"
    return NetEvent(f"coi:coi-x-1:{reason}", family, proto, src, dst, 40000, dport)


def test_multicast_that_every_boot_sends_is_not_a_finding() -> None:
    assert classify(ev("reserved", "224.0.0.251", 5353, proto="udp")) is None
    assert classify(ev("reserved", "ff02::fb", 5353, 6, proto="udp")) is None
    assert classify(ev("not-allowed", "224.0.0.251", 5353, proto="udp")) is not None


@pytest.mark.parametrize(("event", "severity", "title"), [
    (ev("link-local", "169.254.169.254", 80), Severity.CRITICAL, "Metadata endpoint access"),
    (ev("link-local", "fd00:ec2::254", 80, 6), Severity.CRITICAL, "Metadata endpoint access"),
    (ev("conn", "169.254.169.254", 80), Severity.CRITICAL, "Metadata endpoint access"),
    (ev("private", "192.168.1.10", 22), Severity.WARNING, "Connection to a private network"),
    (ev("private", "fd12::1", 22, 6), Severity.WARNING, "Connection to a private network"),
    (ev("host", "10.77.0.1", 8080), Severity.WARNING, "Connection to the host"),
    (ev("reserved", "127.0.0.1", 5432), Severity.WARNING, "Connection to a reserved address"),
    (ev("not-allowed", "198.51.100.7"), Severity.WARNING, "Connection outside the allowlist"),
    (ev("suspicious-port", "203.0.113.9", 4444), Severity.HIGH,
     "Connection to a suspicious port"),
    (ev("conn", "203.0.113.9", 443), Severity.INFO, "Connection"),
])
def test_classify(event: NetEvent, severity: Severity, title: str) -> None:
    finding = classify(event)
    assert finding is not None
    assert (finding.severity, finding.title, finding.detector) == (severity, title, "network")
    assert finding.evidence["dst"] == event.dst and finding.evidence["dport"] == event.dport
    json.dumps(finding.evidence)  # JSON-ready


def test_no_finding_for_dns_or_foreign_prefixes() -> None:
    assert classify(ev("dns", "10.77.0.1", 53)) is None
    assert classify(NetEvent("somebody else", 4, "tcp", "1.1.1.1", "2.2.2.2", 1, 2)) is None
    assert classify(ev("unregistered", "1.1.1.1")) is None


def test_keys_dedupe_by_destination() -> None:
    a, b = classify(ev("conn", "203.0.113.9", 443)), classify(ev("private", "fd12::1", 22, 6))
    assert a is not None and a.key == "203.0.113.9:443"
    assert b is not None and b.key == "[fd12::1]:22"
    icmp = classify(ev("private", "10.0.0.1", None, proto="icmp"))
    assert icmp is not None and icmp.key == "10.0.0.1"


def test_dns_rate_warns_once_per_window() -> None:
    rate = DnsRate(threshold_per_minute=5)
    assert [rate.update(t) for t in range(5)] == [None] * 5
    finding = rate.update(5.5)
    assert finding is not None and finding.severity == Severity.WARNING
    assert finding.title == "DNS query rate" and finding.evidence["queries"] == 6
    assert rate.update(6) is None  # same window
    assert rate.update(200) is None  # the old queries left the window
    assert rate.update(201, queries=10) is not None  # a new window, over again
