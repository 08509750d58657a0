"""The monitor's kernel event sources against the real kernel, nft and Incus.

Traffic goes only to loopback, to a network namespace made here, or to the netlab's
namespace (tests/integration/netlab.py): nothing leaves this machine. Tables other than
`inet coi` are scratch tables named `coi-ks-<hex>`, deleted after. Needs root.
"""

from __future__ import annotations

import contextlib
import os
import random
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest

from coi.errors import IncusError
from coi.incus import instances
from coi.incus.client import Client
from coi.monitor.execwatch import ExecWatch
from coi.monitor.findings import Severity
from coi.monitor.netevents import classify
from coi.monitor.nflog import NetEvent, NflogSocket
from coi.monitor.nftwatch import NftWatch
from coi.network import firewall, integrity
from coi.network.nft import Nft, Output, run_process
from coi.network.nic import Bridge, Target
from coi.network.plan import LOG_GROUPS
from coi.network.policy import LogSpec, NetworkPolicy
from tests.integration import netlab
from tests.integration.netlab import BLOCKED, NS_PORT, PUBLIC

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="kernel sources need root")

IMAGE = os.environ.get("COI_TEST_IMAGE", "coi-test")
T = TypeVar("T")


def nft(script: str, netns: str | None = None) -> None:
    prefix = ["ip", "netns", "exec", netns] if netns else []
    subprocess.run([*prefix, "nft", "-f", "-"], input=script, text=True, check=True,
                   capture_output=True, timeout=20)


def wait_for(read: Callable[[], list[T]], want: Callable[[list[T]], bool],
             seconds: float = 2.0) -> list[T]:
    got: list[T] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got += read()
        if want(got):
            break
        time.sleep(0.01)
    return got


def free_group() -> int:
    """An nflog group outside the range coi's rules use."""
    return random.randrange(LOG_GROUPS[1], 0xFFFF)


@pytest.fixture
def scratch() -> Iterator[str]:
    table = f"coi-ks-{uuid.uuid4().hex[:8]}"
    yield table
    subprocess.run(["nft", "delete", "table", "inet", table], capture_output=True, check=False)


def test_nflog_reads_a_packet_a_real_rule_logged(scratch: str) -> None:
    group = free_group()
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    with NflogSocket(group) as log, listener:
        nft(f"add table inet {scratch}\n"
            f"add chain inet {scratch} out {{ type filter hook output priority 0 ; }}\n"
            f"add rule inet {scratch} out ip daddr 127.0.0.1 udp dport {port} "
            f'log prefix "coi:c-test:dns " group {group}\n')
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        with sender:
            sender.sendto(b"x", ("127.0.0.1", port))
            sport = sender.getsockname()[1]
        events = wait_for(log.read_events, bool)
        assert events == [NetEvent("coi:c-test:dns", 4, "udp", "127.0.0.1", "127.0.0.1",
                                   sport, port)]
        with pytest.raises(Exception, match="taken by another listener"):
            NflogSocket(group)


def test_nftwatch_sees_changes_to_its_table_only(scratch: str) -> None:
    other = f"{scratch}x"
    try:
        with NftWatch(table=scratch) as watch:
            nft(f"add table inet {other}\nadd chain inet {other} c\n"
                f"add rule inet {other} c counter\nadd table ip {scratch}\n")
            time.sleep(0.05)
            assert watch.drain() is False  # another table, another family
            nft(f"add table inet {scratch}\nadd chain inet {scratch} c\n"
                f"add rule inet {scratch} c counter\n")
            assert wait_for(lambda: [True] if watch.drain() else [], bool) == [True]
            nft(f"flush table inet {scratch}\n")
            assert wait_for(lambda: [True] if watch.drain() else [], bool) == [True]
    finally:
        nft(f"delete table inet {other}\ndelete table ip {scratch}\n")


def test_nftwatch_with_chains_ignores_other_sessions_chains(scratch: str) -> None:
    """A supervisor cares about its own chains and the shared ones, not another
    session's: those change whenever another session starts, ends or refreshes."""
    nft(f"add table inet {scratch}\nadd chain inet {scratch} mine\n"
        f"add chain inet {scratch} forward\n")
    with NftWatch(table=scratch, chains=["mine", "forward"]) as watch:
        nft(f"add chain inet {scratch} theirs\nadd rule inet {scratch} theirs counter\n")
        time.sleep(0.05)
        assert watch.drain() is False, "another session's new chain and rule"
        nft(f"add rule inet {scratch} forward counter\n")
        assert wait_for(lambda: [True] if watch.drain() else [], bool) == [True]
        nft(f"add rule inet {scratch} mine counter\n")
        assert wait_for(lambda: [True] if watch.drain() else [], bool) == [True]
        nft(f"flush chain inet {scratch} theirs\ndelete chain inet {scratch} theirs\n")
        time.sleep(0.05)
        assert watch.drain() is False
        nft(f"delete table inet {scratch}\n")
        assert wait_for(lambda: [True] if watch.drain() else [], bool) == [True]


def test_nftwatch_sees_a_change_to_table_inet_coi() -> None:
    probe = f"coi-ks-{uuid.uuid4().hex[:6]}"  # a chain nothing jumps to
    with NftWatch() as watch:
        try:
            nft(f"add table inet coi\nadd chain inet coi {probe}\n")
            assert wait_for(lambda: [True] if watch.drain() else [], bool) == [True]
        finally:
            nft(f"delete chain inet coi {probe}\n")
        assert wait_for(lambda: [True] if watch.drain() else [], bool) == [True]


def test_execwatch_sees_a_spawned_process() -> None:
    with ExecWatch() as watch:
        child = subprocess.Popen(["/bin/true"])
        child.wait()
        assert child.pid in wait_for(watch.drain, lambda got: child.pid in got)


@pytest.fixture
def netns() -> Iterator[str]:
    name = f"coi-ks{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True, timeout=20)
    yield name
    subprocess.run(["ip", "netns", "del", name], check=False, timeout=20)


def test_integrity_check_and_repair_in_a_namespace_of_its_own(netns: str) -> None:
    """In a network namespace made here, so flushing and deleting the table touches no
    other session's rules."""

    def runner(argv: list[str] | tuple[str, ...], stdin: str) -> Output:
        return run_process(["ip", "netns", "exec", netns, *argv], stdin)

    ns_nft = Nft(sudo=False, runner=runner)
    bridge = Bridge.from_config("incusbr0", {"ipv4.address": "10.77.0.1/24",
                                             "ipv6.address": "none"})
    target = Target.for_container("coi-ks-integrity", bridge)
    applied = firewall.apply(target, NetworkPolicy(log=LogSpec()), nft=ns_nft)
    name, chain = target.container, f"f0-{target.container}"
    assert integrity.check(name, applied, nft=ns_nft) == []

    rule = ns_nft.list_table().find(chain, "private")
    assert rule is not None
    nft(f"delete rule inet coi {chain} handle {rule.handle}\n", netns)
    assert integrity.check(name, applied, nft=ns_nft) != []
    applied = integrity.restore(applied, nft=ns_nft)
    assert integrity.check(name, applied, nft=ns_nft) == []

    nft("flush table inet coi\n", netns)
    assert len(integrity.check(name, applied, nft=ns_nft)) >= 5
    applied = integrity.restore(applied, nft=ns_nft)
    assert integrity.check(name, applied, nft=ns_nft) == []

    group = applied.log_group
    nft("delete table inet coi\n", netns)
    assert integrity.check(name, applied, nft=ns_nft) == ["table inet coi is gone"]
    started = time.monotonic()
    applied = integrity.restore(applied, nft=ns_nft)
    assert time.monotonic() - started < 1.0
    assert integrity.check(name, applied, nft=ns_nft) == []
    assert applied.log_group == group  # the supervisor's nflog socket stays valid


@pytest.fixture(scope="module")
def lab(incus: Client) -> Iterator[netlab.Lab]:
    gateway = netlab.target(incus, "x").bridge.gateway4[0]
    with netlab.lab(gateway) as made:
        yield made


def test_session_rules_log_a_refused_connection(incus: Client, lab: netlab.Lab) -> None:
    name = netlab.new_name()
    try:
        applied = netlab.apply(incus, name, NetworkPolicy(log=LogSpec()))
        group = applied.log_group
        assert group is not None and firewall.log_group_of(name) == group
        with NflogSocket(group) as log:
            netlab.create(incus, name, IMAGE, coi_nic=True)
            private = BLOCKED["rfc1918-10"]
            attempt = netlab.connect(incus, name, private, NS_PORT)
            assert not attempt.ok and not attempt.timed_out
            netlab.connect(incus, name, PUBLIC, 4444, timeout=3)  # the lab: no listener

            def seen(events: list[NetEvent]) -> bool:
                reasons = {(e.reason, e.dst) for e in events}
                return {("private", private), ("suspicious-port", PUBLIC)} <= reasons

            events = wait_for(log.read_events, seen, seconds=3)
        assert seen(events), events
        refused = next(e for e in events if e.reason == "private")
        assert (refused.container, refused.proto, refused.dport) == (name, "tcp", NS_PORT)
        finding = classify(refused)
        assert finding is not None and finding.severity == Severity.WARNING
        assert finding.evidence["dst"] == private
        suspicious = classify(next(e for e in events if e.reason == "suspicious-port"))
        assert suspicious is not None and suspicious.severity == Severity.HIGH
        assert any(e.reason == "conn" and e.dst == PUBLIC for e in events)
    finally:
        with contextlib.suppress(IncusError):
            instances.delete(incus, name, force=True, missing_ok=True)
        firewall.remove(name)
