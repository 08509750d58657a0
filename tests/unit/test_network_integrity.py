"""integrity.check against fake `nft -j list table inet coi` listings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from coi.network import integrity
from coi.network.firewall import Applied
from coi.network.nic import Bridge, Target
from coi.network.policy import LogSpec, NetworkPolicy
from coi.network.resolve import Resolved
from coi.network.rules import REFUSE_RULES, catch_all, forward_rules, input_rules
from coi.network.table import TableState, parse

BRIDGE = Bridge.from_config("incusbr0", {"ipv4.address": "10.77.0.1/24",
                                         "ipv6.address": "none"})
TARGET = Target.for_container("coi-abc12345-1", BRIDGE)
POLICY = NetworkPolicy(log=LogSpec(group=4321))
APPLIED = Applied(TARGET, POLICY, Resolved(),
                  tuple(forward_rules(TARGET, POLICY, Resolved())),
                  tuple(input_rules(TARGET, POLICY, Resolved())), 0, 0.0)


def expr(rule: str) -> list[dict[str, Any]]:
    """The verdict part of a rule as nft -j shows it (enough for the checks)."""
    _comment, verdict = integrity.signature(rule)
    items: list[dict[str, Any]] = []
    if "ether saddr" in rule and "-" not in rule.split()[2]:
        items.append({"match": {"op": "==", "left": {"payload": {"protocol": "ether",
                                                                 "field": "saddr"}},
                                "right": rule.split()[2]}})
    if " log prefix " in rule:
        items.append({"log": {"prefix": "x", "group": 4321}})
    if verdict:
        word, _, target = verdict.partition(" ")
        items.append({word: {"target": target} if target else None})
    return items


def listing(gen: int = 0) -> dict[str, Any]:
    f, i = f"f{gen}-{TARGET.container}", f"i{gen}-{TARGET.container}"
    items: list[dict[str, Any]] = [{"table": {"family": "inet", "name": "coi"}}]
    items += [{"chain": {"name": n, "hook": n}} for n in ("forward", "input")]
    items += [{"chain": {"name": n}} for n in ("refuse", f, i)]
    handle = iter(range(1, 1000))

    def rule(chain: str, text: str) -> dict[str, Any]:
        comment = integrity.signature(text)[0]
        return {"rule": {"chain": chain, "handle": next(handle), "expr": expr(text),
                         **({"comment": comment} if comment else {})}}

    items += [rule("refuse", r) for r in REFUSE_RULES]
    for base, chain in (("forward", f), ("input", i)):
        items.append(rule(base, f'ether saddr {TARGET.mac} jump {chain} comment "at-1"'))
        items.append(rule(base, catch_all()))
    items += [rule(f, r) for r in APPLIED.forward] + [rule(i, r) for r in APPLIED.inputs]
    return {"nftables": items}


def check(data: dict[str, Any]) -> list[str]:
    return integrity.check(TARGET.container, APPLIED, state=parse(json.dumps(data)))


def rules_of(data: dict[str, Any], chain: str) -> list[dict[str, Any]]:
    return [i for i in data["nftables"] if "rule" in i and i["rule"]["chain"] == chain]


def test_intact_table_and_other_generation_pass() -> None:
    assert check(listing()) == []
    assert check(listing(1)) == []


def test_one_deleted_rule() -> None:
    data = listing()
    data["nftables"].remove(rules_of(data, f"f0-{TARGET.container}")[5])
    assert check(data) == [f"chain f0-{TARGET.container} holds {len(APPLIED.forward) - 1} "
                           f"rules, not the {len(APPLIED.forward)} coi installed"]


def test_changed_verdict() -> None:
    data = listing()
    last = rules_of(data, f"f0-{TARGET.container}")[-1]["rule"]
    last["expr"] = [{"drop": None}]
    (problem,) = check(data)
    assert "(internet) ends in drop, not accept" in problem


def test_flushed_chain_and_missing_jump() -> None:
    data = listing()
    for item in rules_of(data, f"i0-{TARGET.container}"):
        data["nftables"].remove(item)
    assert check(data) == [f"chain i0-{TARGET.container} is empty (flushed): "
                           f"{len(APPLIED.inputs)} rules missing"]
    data = listing()
    data["nftables"].remove(rules_of(data, "forward")[0])
    assert any("no longer sends" in p for p in check(data))


def test_flushed_or_deleted_table() -> None:
    data = listing()
    data["nftables"] = [i for i in data["nftables"] if "rule" not in i]
    problems = check(data)
    assert "chain refuse is empty (flushed): 2 rules missing" in problems
    assert "chain forward lacks the rule refusing unregistered coi MACs" in problems
    assert len(problems) == 7
    gone = integrity.check(TARGET.container, APPLIED, state=TableState(False))
    assert gone == ["table inet coi is gone"]


def test_base_chain_on_another_hook() -> None:
    data = listing()
    data["nftables"][1]["chain"]["hook"] = "output"
    assert check(data) == ["chain forward is not on the forward hook"]


def test_signature_of_rule_text() -> None:
    assert integrity.signature('ip daddr 10.0.0.0/8 counter goto refuse comment "private"') \
        == ("private", "goto refuse")
    assert integrity.signature('limit rate 5/second log prefix "coi:a:accept " group 3') \
        == ("", "")
    assert integrity.signature("meta l4proto tcp reject with tcp reset") == ("", "reject")


def test_a_second_copy_of_the_shared_refusals_is_not_tampering() -> None:
    data = listing()
    refusals = rules_of(data, "refuse")
    data["nftables"] += [{"rule": {**r["rule"], "handle": 900 + n}}
                         for n, r in enumerate(refusals)]
    assert check(data) == []
    data["nftables"].remove(refusals[0])  # [reject, tcp-reset, reject]: out of shape
    assert any("chain refuse" in p for p in check(data))


def test_table_changes_are_serialized_across_processes(tmp_path: Path) -> None:
    import subprocess
    import sys

    from coi.network import tablelock

    script = ("import sys, time; from coi.network import tablelock\n"
              "with tablelock.changing():\n"
              "    print('in', flush=True); time.sleep(0.5)\n")
    with tablelock.changing():
        child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                                 text=True)
        try:
            child.wait(timeout=1.0)
            raise AssertionError("the child got the lock while this process held it")
        except subprocess.TimeoutExpired:
            pass
    assert child.communicate(timeout=10)[0] == "in\n"
    assert tablelock.lock_path().exists()
