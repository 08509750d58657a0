"""Reading `nft -j -a list table inet coi` (a trimmed real listing from nft 1.0.6)."""

from __future__ import annotations

import pytest

from coi.errors import PolicyError
from coi.network.table import owner, parse

# Container coi-ntdry2 under restricted mode with logging, generation 0.
LISTING = (
    '{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json'
    '_schema_version": 1}}, {"table": {"family": "inet", "name": "coi", "handle": 10}}, {"cha'
    'in": {"family": "inet", "table": "coi", "name": "refuse", "handle": 1}}, {"chain": {"fam'
    'ily": "inet", "table": "coi", "name": "forward", "handle": 4, "type": "filter", "hook": '
    '"forward", "prio": 0, "policy": "accept"}}, {"chain": {"family": "inet", "table": "coi",'
    ' "name": "input", "handle": 5, "type": "filter", "hook": "input", "prio": 0, "policy": "'
    'accept"}}, {"chain": {"family": "inet", "table": "coi", "name": "f0-coi-ntdry2", "handle'
    '": 147}}, {"chain": {"family": "inet", "table": "coi", "name": "i0-coi-ntdry2", "handle"'
    ': 173}}, {"rule": {"family": "inet", "table": "coi", "chain": "refuse", "handle": 2, "ex'
    'pr": [{"match": {"op": "==", "left": {"meta": {"key": "l4proto"}}, "right": "tcp"}}, {"r'
    'eject": {"type": "tcp reset"}}]}}, {"rule": {"family": "inet", "table": "coi", "chain": '
    '"refuse", "handle": 3, "expr": [{"reject": {"type": "icmpx", "expr": "admin-prohibited"}'
    '}]}}, {"rule": {"family": "inet", "table": "coi", "chain": "forward", "handle": 182, "co'
    'mment": "at-1795789089", "expr": [{"match": {"op": "==", "left": {"payload": {"protocol"'
    ': "ether", "field": "saddr"}}, "right": "0e:c0:75:ee:f4:2e"}}, {"jump": {"target": "f0-c'
    'oi-ntdry2"}}]}}, {"rule": {"family": "inet", "table": "coi", "chain": "forward", "handle'
    '": 6, "comment": "unregistered", "expr": [{"match": {"op": "==", "left": {"payload": {"p'
    'rotocol": "ether", "field": "saddr"}}, "right": {"range": ["0e:c0:00:00:00:00", "0e:c0:f'
    'f:ff:ff:ff"]}}}, {"counter": {"packets": 0, "bytes": 0}}, {"goto": {"target": "refuse"}}'
    ']}}, {"rule": {"family": "inet", "table": "coi", "chain": "input", "handle": 183, "comme'
    'nt": "at-1795789089", "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "'
    'ether", "field": "saddr"}}, "right": "0e:c0:75:ee:f4:2e"}}, {"jump": {"target": "i0-coi-'
    'ntdry2"}}]}}, {"rule": {"family": "inet", "table": "coi", "chain": "input", "handle": 7,'
    ' "comment": "unregistered", "expr": [{"match": {"op": "==", "left": {"payload": {"protoc'
    'ol": "ether", "field": "saddr"}}, "right": {"range": ["0e:c0:00:00:00:00", "0e:c0:ff:ff:'
    'ff:ff"]}}}, {"counter": {"packets": 0, "bytes": 0}}, {"goto": {"target": "refuse"}}]}}, '
    '{"rule": {"family": "inet", "table": "coi", "chain": "f0-coi-ntdry2", "handle": 167, "co'
    'mment": "private", "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip"'
    ', "field": "daddr"}}, "right": {"set": [{"prefix": {"addr": "10.0.0.0", "len": 8}}, {"pr'
    'efix": {"addr": "100.64.0.0", "len": 10}}, {"prefix": {"addr": "172.16.0.0", "len": 12}}'
    ', {"prefix": {"addr": "192.168.0.0", "len": 16}}]}}}, {"counter": {"packets": 0, "bytes"'
    ': 0}}, {"goto": {"target": "refuse"}}]}}, {"rule": {"family": "inet", "table": "coi", "c'
    'hain": "f0-coi-ntdry2", "handle": 171, "comment": "private", "expr": [{"match": {"op": "'
    '==", "left": {"payload": {"protocol": "ip6", "field": "daddr"}}, "right": {"set": [{"pre'
    'fix": {"addr": "64:ff9b::a00:0", "len": 104}}, {"prefix": {"addr": "64:ff9b::6440:0", "l'
    'en": 106}}, {"prefix": {"addr": "64:ff9b::ac10:0", "len": 108}}, {"prefix": {"addr": "64'
    ':ff9b::c0a8:0", "len": 112}}, {"prefix": {"addr": "64:ff9b:1::", "len": 48}}, {"prefix":'
    ' {"addr": "fc00::", "len": 7}}]}}}, {"counter": {"packets": 0, "bytes": 0}}, {"goto": {"'
    'target": "refuse"}}]}}, {"rule": {"family": "inet", "table": "coi", "chain": "i0-coi-ntd'
    'ry2", "handle": 181, "comment": "host", "expr": [{"counter": {"packets": 4, "bytes": 0}}'
    ', {"goto": {"target": "refuse"}}]}}]}'
)
MAC = "0e:c0:75:ee:f4:2e"


def test_chains_rules_and_jumps_are_read() -> None:
    state = parse(LISTING)
    assert state.exists
    assert {"refuse", "forward", "input", "f0-coi-ntdry2", "i0-coi-ntdry2"} <= state.chains
    jumps = state.jumps("coi-ntdry2")
    assert [(r.chain, r.target, r.mac, r.verdict) for r in jumps] == [
        ("forward", "f0-coi-ntdry2", MAC, "jump"), ("input", "i0-coi-ntdry2", MAC, "jump")]
    assert jumps[0].stamp == 1795789089
    assert state.generation("coi-ntdry2") == 0
    assert state.containers() == {"coi-ntdry2"}
    assert state.chains_of("coi-ntdry2") == ["f0-coi-ntdry2", "i0-coi-ntdry2"]


def test_counters_comments_and_verdicts() -> None:
    state = parse(LISTING)
    host = state.find("i0-coi-ntdry2", "host")
    assert host is not None
    assert (host.packets, host.verdict, host.target) == (4, "goto", "refuse")
    catch_all = state.find("forward", "unregistered")
    assert catch_all is not None and catch_all.mac == ""  # a range, not one address
    assert [r.verdict for r in state.rules_in("refuse")] == ["reject", "reject"]


def test_unknown_container_has_nothing() -> None:
    state = parse(LISTING)
    assert state.jumps("coi-ntdry") == []
    assert state.generation("coi-other") is None
    assert state.chains_of("coi-ntdry") == []


@pytest.mark.parametrize(("chain", "parsed"), [
    ("f0-coi-abc-1", ("f", 0, "coi-abc-1")), ("i1-x", ("i", 1, "x")),
    ("forward", None), ("refuse", None), ("f2-x", None), ("g0-x", None), ("f0-", None),
])
def test_chain_owner(chain: str, parsed: tuple[str, int, str] | None) -> None:
    found = owner(chain)
    assert (None if found is None else (found.kind, found.generation, found.container)) == parsed


def test_garbage_is_a_policy_error() -> None:
    with pytest.raises(PolicyError):
        parse("not json")
    with pytest.raises(PolicyError):
        parse('{"other": []}')


def test_log_groups_are_read_per_container() -> None:
    import json

    log = {"log": {"prefix": "coi:c:private ", "group": 4242}}
    text = json.dumps({"nftables": [
        {"chain": {"family": "inet", "table": "coi", "name": "f0-c"}},
        {"chain": {"family": "inet", "table": "coi", "name": "f1-d"}},
        {"rule": {"chain": "f0-c", "handle": 3, "expr": [{"limit": {"rate": 5}}, log]}},
        {"rule": {"chain": "f1-d", "handle": 4, "expr": [{"accept": None}]}},
    ]})
    state = parse(text)
    assert state.rules[0].log_group == 4242 and state.rules[0].verdict == ""
    assert state.log_group("c") == 4242 and state.log_group("d") is None
    assert state.log_groups() == {4242} and state.log_groups(but="c") == set()
