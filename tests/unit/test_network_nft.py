"""The nft runner (root: one transaction; otherwise sudo, one command per call) and the
firewall functions on top of it, with a scripted runner instead of nft."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest

from coi.errors import PolicyError
from coi.network import firewall
from coi.network.nft import Nft, Output
from coi.network.nic import Bridge, Target
from coi.network.policy import NetworkPolicy, parse_destination
from coi.network.resolve import Resolved

NO_TABLE = Output(1, "", "Error: No such file or directory\nlist table inet coi\n")
DONE = Output(0, "", "")
TARGET = Target.for_container("coi-abc12345-1",
                              Bridge.from_config("b", {"ipv4.address": "10.77.0.1/24"}))


class Script:
    """Answers `nft` calls: listings from `listing`, changes with `change`."""

    def __init__(self, listing: Output = NO_TABLE, change: Output = DONE) -> None:
        self.listing, self.change = listing, change
        self.calls: list[tuple[list[str], str]] = []

    def __call__(self, argv: Sequence[str], stdin: str) -> Output:
        self.calls.append((list(argv), stdin))
        return self.listing if "list" in argv else self.change

    @property
    def changes(self) -> list[tuple[list[str], str]]:
        return [c for c in self.calls if "list" not in c[0]]


def listing(*chains: str, rules: Sequence[dict[str, object]] = ()) -> Output:
    items: list[dict[str, object]] = [{"table": {"family": "inet", "name": "coi"}}]
    items += [{"chain": {"name": c}} for c in chains]
    items += [{"rule": r} for r in rules]
    return Output(0, json.dumps({"nftables": items}), "")


def jump(chain: str, target: str, handle: int, stamp: int) -> dict[str, object]:
    return {"chain": chain, "handle": handle, "comment": f"at-{stamp}",
            "expr": [{"jump": {"target": target}}]}


def test_root_applies_one_transaction_from_stdin() -> None:
    script = Script()
    Nft(binary="/usr/sbin/nft", sudo=False, runner=script).apply(["add table inet coi",
                                                                  "add chain inet coi x"], "t")
    assert script.calls == [(["/usr/sbin/nft", "-f", "-"],
                             "add table inet coi\nadd chain inet coi x\n")]


def test_sudo_runs_each_command_as_its_own_words() -> None:
    script = Script()
    nft = Nft(binary="/usr/sbin/nft", sudo=True, runner=script)
    nft.apply(['add rule inet coi x ip daddr { 1.2.3.4, 5.6.7.8 } counter comment "a b"'], "t")
    nft.list_table()
    assert script.calls[0][0] == ["sudo", "-n", "/usr/sbin/nft", "add", "rule", "inet", "coi",
                                  "x", "ip", "daddr", "{", "1.2.3.4,", "5.6.7.8", "}",
                                  "counter", "comment", '"a', 'b"']
    assert script.calls[1][0] == ["sudo", "-n", "/usr/sbin/nft", "-j", "-a", "list", "table",
                                  "inet", "coi"]


def test_sudo_stops_at_the_first_failure_and_names_the_command() -> None:
    script = Script(change=Output(1, "", "Error: Could not process rule: No such file"))
    with pytest.raises(PolicyError) as caught:
        Nft(sudo=True, runner=script).apply(["add chain inet coi a", "add chain inet coi b"],
                                            "apply things")
    assert len(script.calls) == 1
    assert "apply things (at `nft add chain inet coi a`)" in caught.value.message
    assert "Could not process rule" in caught.value.message


def test_refused_sudo_says_to_run_setup() -> None:
    script = Script(change=Output(1, "", "sudo: a password is required\n"))
    with pytest.raises(PolicyError) as caught:
        Nft(sudo=True, runner=script).apply(["add table inet coi"], "apply x")
    assert "sudo may not run nft" in caught.value.message
    assert "sudo coi setup" in str(caught.value.hint)
    assert "--network=open" in str(caught.value.hint)


def test_missing_base_chains_point_at_setup() -> None:
    script = Script(change=Output(1, "", "sudo: a password is required\n"))
    cmd = "add chain inet coi forward { type filter hook forward priority filter ; }"
    with pytest.raises(PolicyError) as caught:
        Nft(sudo=True, runner=script).apply([cmd], "apply x")
    assert "base chains are missing" in caught.value.message
    assert "sudo coi setup" in str(caught.value.hint)


def test_missing_binary_is_a_policy_error() -> None:
    with pytest.raises(PolicyError) as caught:
        Nft(binary="/nonexistent/nft", sudo=False).apply(["add table inet coi"], "apply x")
    assert "not installed" in caught.value.message


def test_missing_table_lists_as_absent() -> None:
    assert not Nft(sudo=False, runner=Script()).list_table().exists
    broken = Script(listing=Output(1, "", "Error: Operation not permitted"))
    with pytest.raises(PolicyError):
        Nft(sudo=False, runner=broken).list_table()


def test_filtered_policy_fails_closed_when_nft_fails() -> None:
    script = Script(change=Output(1, "", "Error: Operation not permitted"))
    with pytest.raises(PolicyError):
        firewall.apply(TARGET, NetworkPolicy(), nft=Nft(sudo=False, runner=script),
                       resolved=Resolved())


def test_open_mode_goes_ahead_without_a_table_but_not_past_one() -> None:
    failing = Output(1, "", "Error: Operation not permitted")
    applied = firewall.apply(TARGET, NetworkPolicy(mode="open"), resolved=Resolved(),
                             nft=Nft(sudo=False, runner=Script(change=failing)))
    assert applied.generation is None
    assert any("open mode without coi's firewall" in w for w in applied.warnings)
    present = Script(listing=listing("refuse"), change=failing)
    with pytest.raises(PolicyError):
        firewall.apply(TARGET, NetworkPolicy(mode="open"), resolved=Resolved(),
                       nft=Nft(sudo=False, runner=present))


def test_refresh_changes_nothing_when_the_addresses_did_not_change() -> None:
    script = Script()
    nft = Nft(sudo=False, runner=script)
    policy = NetworkPolicy(mode="allowlist", allowlist=(parse_destination("a.example"),))
    applied = firewall.apply(TARGET, policy, nft=nft, lookup=lambda h: ["203.0.113.1"])
    assert len(script.changes) == 1
    again = firewall.refresh(applied, nft=nft, lookup=lambda h: ["203.0.113.1"])
    assert len(script.changes) == 1 and again.generation == applied.generation
    moved = firewall.refresh(applied, nft=nft, lookup=lambda h: ["203.0.113.2"])
    assert len(script.changes) == 2
    assert 'ip daddr { 203.0.113.2 } counter accept comment "allowed"' in moved.forward


def test_orphans_skip_running_and_young_containers() -> None:
    now = 10_000
    state = listing("forward", "f0-gone", "i0-gone", "f1-running", "f0-young",
                    rules=[jump("forward", "f0-gone", 5, now - 3600),
                           jump("forward", "f1-running", 6, now - 3600),
                           jump("forward", "f0-young", 7, now - 10)])
    nft = Nft(sudo=False, runner=Script(listing=state))
    assert firewall.orphans(["running"], nft=nft, now=now) == ["gone"]
    assert firewall.orphans(["running"], nft=nft, now=now, grace=0) == ["gone", "young"]
    assert firewall.orphans([], nft=Nft(sudo=False, runner=Script())) == []
