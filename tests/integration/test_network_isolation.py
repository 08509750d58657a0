"""Network isolation seen from inside real containers (image coi-test).

Every blocked target is local (tests/integration/netlab.py), so a missing rule fails a
test instead of sending traffic out; only the Debian mirror is reached for real. Each
"blocked" assertion has a control that shows the same target reachable without the rule.

Containers: `a` and `b` have coi's NIC (MAC, port isolation, filtering); `c` and `d`
have the profile's plain NIC, as a non-coi container on the same bridge would.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import pytest

from coi.errors import IncusError, NotFound, PolicyError
from coi.incus import exec as incus_exec
from coi.incus import instances
from coi.incus.client import Client
from coi.network import firewall, nic, proof
from coi.network.nft import Nft
from coi.network.policy import NetworkPolicy, parse_destination, parse_proxy
from coi.network.resolve import Lookup, system_lookup
from tests.integration import netlab
from tests.integration.netlab import BLOCKED, NS_PORT, PUBLIC, Lab, connect

IMAGE = os.environ.get("COI_TEST_IMAGE", "coi-test")
PORT = 9000
MIRROR = "deb.debian.org"
RESTRICTED = NetworkPolicy()
OPEN = NetworkPolicy(mode="open")
FAST = 1.0  # seconds a refusal may take (a timeout would be several)


@dataclass(frozen=True)
class Boxes:
    a: str
    b: str
    c: str
    d: str


@pytest.fixture(scope="module")
def lab(incus: Client) -> Iterator[Lab]:
    gateway = netlab.target(incus, "x").bridge.gateway4[0]
    with netlab.lab(gateway) as made:
        yield made


@pytest.fixture(scope="module")
def boxes(incus: Client) -> Iterator[Boxes]:
    try:
        incus.get(f"/images/aliases/{IMAGE}")
    except NotFound:
        pytest.fail(f"image {IMAGE} missing (scripts/test builds it)", pytrace=False)
    made = Boxes(*(netlab.new_name() for _ in range(4)))
    try:
        for name in (made.a, made.b):
            netlab.apply(incus, name, RESTRICTED)  # before the container exists
            netlab.create(incus, name, IMAGE, coi_nic=True)
        for name in (made.c, made.d):
            netlab.create(incus, name, IMAGE, coi_nic=False)
        for name in (made.b, made.c):
            netlab.listen_in(incus, name, PORT)
        yield made
    finally:
        for name in (made.a, made.b, made.c, made.d):
            with contextlib.suppress(IncusError):
                instances.delete(incus, name, force=True, missing_ok=True)
            firewall.remove(name)


def under(incus: Client, name: str, policy: NetworkPolicy,
          lookup: Lookup = system_lookup) -> firewall.Applied:
    return netlab.apply(incus, name, policy, lookup)


def ip_of(incus: Client, name: str) -> str:
    return instances.state(incus, name).ipv4[0]


def assert_refused(incus: Client, name: str, host: str, port: int) -> None:
    attempt = connect(incus, name, host, port)
    assert not attempt.ok, f"{name} reached {host}:{port}"
    assert not attempt.timed_out and attempt.seconds < FAST, \
        f"{host}:{port} was not refused at once: {attempt}"


def reachable(incus: Client, name: str, host: str, port: int, timeout: float = 10) -> bool:
    return connect(incus, name, host, port, timeout=timeout).ok


def mirror_reachable(incus: Client, name: str) -> bool:
    """A TCP connect to the Debian mirror (it sends no greeting; HTTP waits for us)."""
    return connect(incus, name, MIRROR, 80, timeout=10, greeting=False).ok


def targets(lab: Lab) -> list[tuple[str, int]]:
    return [*((a, NS_PORT) for a in BLOCKED.values()),
            (lab.gateway.address, lab.gateway.port),
            (lab.other_host.address, lab.other_host.port)]


def test_coi_nic_has_its_fixed_identity(incus: Client, boxes: Boxes) -> None:
    """Incus takes `host_name` and `hwaddr` on a bridged NIC: the rules' key is known
    before the container exists."""
    eth0 = instances.state(incus, boxes.a).network["eth0"]
    assert (eth0.host_name, eth0.hwaddr) == (nic.veth_name(boxes.a), nic.mac_address(boxes.a))


def test_open_mode_reaches_every_lab_target(incus: Client, boxes: Boxes, lab: Lab) -> None:
    """The control: without filtering each target answers, so the tests below can fail."""
    under(incus, boxes.a, OPEN)
    for host, port in [*targets(lab), (PUBLIC, NS_PORT)]:
        assert reachable(incus, boxes.a, host, port), f"{host}:{port}"


def test_restricted_refuses_private_metadata_and_host_but_not_the_internet(
        incus: Client, boxes: Boxes, lab: Lab) -> None:
    applied = under(incus, boxes.a, RESTRICTED)
    assert proof.verify(incus, applied).seconds < 0.3
    for host, port in targets(lab):
        assert_refused(incus, boxes.a, host, port)
    assert reachable(incus, boxes.a, PUBLIC, NS_PORT)
    assert mirror_reachable(incus, boxes.a)


def test_restricted_keeps_dns_and_dhcp(incus: Client, boxes: Boxes, lab: Lab) -> None:
    applied = under(incus, boxes.a, RESTRICTED)
    chain = f"i{applied.generation}-{boxes.a}"
    run = incus_exec.run
    assert run(incus, boxes.a, ["resolvectl", "flush-caches"], timeout=20).ok
    lookup = run(incus, boxes.a, ["getent", "hosts", MIRROR], timeout=20)
    assert lookup.ok and lookup.stdout.split()[1] == MIRROR.encode()
    assert firewall_counter(chain, "dns") > 0
    # Link down and up: networkd starts over with a broadcast DHCP request.
    relink = "ip link set eth0 down && ip link set eth0 up"
    assert run(incus, boxes.a, ["sh", "-c", relink], timeout=20).ok
    wait_for(lambda: firewall_counter(chain, "dhcp") > 0, "DHCP request")
    wait_for(lambda: bool(instances.state(incus, boxes.a).ipv4), "address after DHCP")
    assert reachable(incus, boxes.a, PUBLIC, NS_PORT)


def test_proxy_on_a_private_address_is_allowed_alone(incus: Client, boxes: Boxes,
                                                      lab: Lab) -> None:
    proxy = parse_proxy(f"http://{BLOCKED['rfc1918-10']}:{NS_PORT}")
    under(incus, boxes.a, NetworkPolicy(proxy=proxy))
    assert reachable(incus, boxes.a, BLOCKED["rfc1918-10"], NS_PORT)
    assert_refused(incus, boxes.a, BLOCKED["rfc1918-172"], NS_PORT)


def test_coi_containers_cannot_reach_each_other(incus: Client, boxes: Boxes,
                                                 lab: Lab) -> None:
    peer = ip_of(incus, boxes.b)
    assert reachable(incus, boxes.c, peer, PORT), "control: a plain container reaches b"
    for policy in (OPEN, RESTRICTED):  # L2 isolation holds whatever the mode
        under(incus, boxes.a, policy)
        assert not connect(incus, boxes.a, peer, PORT, timeout=3).ok, policy.mode


def test_ipv6_from_a_coi_container_is_dropped(incus: Client, boxes: Boxes, lab: Lab) -> None:
    address = f"{netlab.link_local(incus, boxes.c)}%eth0"
    assert reachable(incus, boxes.d, address, PORT), "control: IPv6 link-local works"
    for policy in (OPEN, RESTRICTED):
        under(incus, boxes.a, policy)
        assert not connect(incus, boxes.a, address, PORT, timeout=3).ok, policy.mode


def allowlist(*entries: str) -> NetworkPolicy:
    return NetworkPolicy(mode="allowlist", allowlist=tuple(parse_destination(e)
                                                            for e in entries))


def test_allowlist_lets_only_listed_destinations_through(incus: Client, boxes: Boxes,
                                                         lab: Lab) -> None:
    applied = under(incus, boxes.a, allowlist(MIRROR))
    assert proof.verify(incus, applied).probe.endswith(":53")  # DNS is closed
    assert mirror_reachable(incus, boxes.a)  # the name comes from /etc/hosts
    assert_refused(incus, boxes.a, PUBLIC, NS_PORT)
    for host, port in targets(lab):
        assert_refused(incus, boxes.a, host, port)
    dns = incus_exec.run(incus, boxes.a, ["getent", "hosts", "example.org"], timeout=30)
    assert not dns.ok

    under(incus, boxes.a, allowlist(MIRROR, f"{PUBLIC}:{NS_PORT}", BLOCKED["rfc1918-10"]))
    assert reachable(incus, boxes.a, PUBLIC, NS_PORT)
    assert reachable(incus, boxes.a, BLOCKED["rfc1918-10"], NS_PORT)  # listed literally
    assert_refused(incus, boxes.a, BLOCKED["metadata"], NS_PORT)


def test_allowlist_refresh_follows_dns(incus: Client, boxes: Boxes, lab: Lab) -> None:
    answers: dict[str, Sequence[str]] = {"lab.coi.test": []}

    def lookup(host: str) -> Sequence[str]:
        return answers[host] if host in answers else system_lookup(host)

    applied = under(incus, boxes.a, allowlist(MIRROR, "lab.coi.test"), lookup=lookup)
    assert applied.resolved.unresolved == ("lab.coi.test",)
    proof.verify(incus, applied)
    assert_refused(incus, boxes.a, PUBLIC, NS_PORT)

    answers["lab.coi.test"] = [PUBLIC]
    started = time.monotonic()
    fresh = firewall.refresh(applied, client=incus, lookup=lookup)
    assert time.monotonic() - started < 1
    assert fresh.generation != applied.generation
    assert reachable(incus, boxes.a, "lab.coi.test", NS_PORT)  # rules and /etc/hosts
    assert firewall.refresh(fresh, lookup=lookup).generation == fresh.generation


def test_a_coi_container_without_rules_is_refused(incus: Client, boxes: Boxes,
                                                   lab: Lab) -> None:
    under(incus, boxes.a, RESTRICTED)
    assert reachable(incus, boxes.a, PUBLIC, NS_PORT)
    firewall.remove(boxes.a)
    try:
        assert_refused(incus, boxes.a, PUBLIC, NS_PORT)
        assert_refused(incus, boxes.a, lab.gateway.address, lab.gateway.port)
    finally:
        under(incus, boxes.a, RESTRICTED)


def test_proof_fails_when_the_refusal_is_not_coi_s(incus: Client, boxes: Boxes,
                                                    lab: Lab) -> None:
    """Another table refusing the probe first: the connect fails as expected, but coi's
    counter does not move, so the proof must not pass."""
    applied = under(incus, boxes.a, RESTRICTED)
    table = f"inet {boxes.a}-block"
    nft = ["nft", "-f", "-"]
    block = (f"add table {table}\nadd chain {table} c {{ type filter hook input priority -10 ; }}"
             f"\nadd rule {table} c ether saddr {applied.target.mac} tcp dport 1 "
             "reject with tcp reset\n")
    subprocess.run(nft, input=block, text=True, check=True)
    try:
        with pytest.raises(PolicyError, match="did not come from coi's rules"):
            proof.verify(incus, applied)
    finally:
        subprocess.run(nft, input=f"delete table {table}\n", text=True, check=True)
    proof.verify(incus, applied)


def test_proof_fails_without_rules_or_with_the_wrong_nic(incus: Client, boxes: Boxes,
                                                         lab: Lab) -> None:
    applied = under(incus, boxes.a, RESTRICTED)
    firewall.remove(boxes.a)
    try:
        with pytest.raises(PolicyError, match="no rule sends its traffic"):
            proof.verify(incus, applied)
    finally:
        under(incus, boxes.a, RESTRICTED)
    plain = under(incus, boxes.c, RESTRICTED)  # c has the profile's NIC, not coi's
    try:
        with pytest.raises(PolicyError, match=r"not .* that its rules are keyed on"):
            proof.verify(incus, plain)
    finally:
        firewall.remove(boxes.c)


def firewall_counter(chain: str, comment: str) -> int:
    rule = Nft().list_table().find(chain, comment)
    assert rule is not None, f"no rule {comment!r} in {chain}"
    return rule.packets


def wait_for(check: Callable[[], bool], what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"no {what} within {timeout} s"
        time.sleep(0.2)
