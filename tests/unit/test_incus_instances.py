"""Instance request bodies and the parsing of what the daemon returns."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from coi.incus.instances import Instance, create_body, list_filter
from coi.incus.snapshots import Snapshot
from coi.incus.state import InstanceState

STATE: dict[str, Any] = {
    "status": "Running", "status_code": 103, "pid": 4242, "processes": 9,
    "memory": {"usage": 1000, "usage_peak": 2000},
    "cpu": {"usage": 5},
    "network": {
        "eth0": {
            "addresses": [
                {"family": "inet", "address": "10.77.0.54", "netmask": "24", "scope": "global"},
                {"family": "inet6", "address": "fd42::5", "netmask": "64", "scope": "global"},
                {"family": "inet6", "address": "fe80::1", "netmask": "64", "scope": "link"},
            ],
            "counters": {"bytes_received": 10, "bytes_sent": 20},
            "hwaddr": "10:66:6a:00:00:01", "host_name": "veth7b0bf77c", "mtu": 1500,
            "state": "up", "type": "broadcast",
        },
        "lo": {
            "addresses": [{"family": "inet", "address": "127.0.0.1", "netmask": "8",
                           "scope": "local"}],
            "host_name": "", "mtu": 65536, "state": "up",
        },
    },
}


def test_create_body_batches_everything() -> None:
    body = create_body(
        "coi-1", image="coi", config={"limits.cpu": "2"},
        devices={"ws": {"type": "disk", "source": "/w", "path": "/workspace"}},
        profiles=["default"], ephemeral=True, start=True,
    )
    assert body["source"] == {"type": "image", "alias": "coi"}
    assert body["config"] == {"limits.cpu": "2"}
    assert body["devices"]["ws"]["path"] == "/workspace"
    assert (body["start"], body["ephemeral"], body["profiles"]) == (True, True, ["default"])


def test_create_body_by_fingerprint_and_default_profiles() -> None:
    body = create_body("c", fingerprint="684f5bf0b8fa")
    assert body["source"] == {"type": "image", "fingerprint": "684f5bf0b8fa"}
    assert "profiles" not in body  # the daemon then applies `default`


@pytest.mark.parametrize("kwargs", [{}, {"image": "a", "fingerprint": "b"}])
def test_create_body_needs_exactly_one_source(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        create_body("c", **kwargs)


def test_list_filter_is_an_anchored_escaped_prefix() -> None:
    pattern = list_filter("coi-a.b").removeprefix("name eq ")
    assert re.search(pattern, "coi-a.b-1")
    assert not re.search(pattern, "coi-axb-1")
    assert not re.search(pattern, "x-coi-a.b")


def test_state_parsing() -> None:
    state = InstanceState.from_api(STATE)
    assert state.running and state.pid == 4242 and state.processes == 9
    assert state.memory_usage == 1000 and state.memory_peak == 2000
    assert state.ipv4 == ["10.77.0.54"]  # loopback left out
    assert state.ipv6 == ["fd42::5"]  # link-local left out
    assert state.network["eth0"].host_name == "veth7b0bf77c"
    assert state.network["eth0"].bytes_sent == 20


def test_docker_bridge_inside_is_not_the_containers_address() -> None:
    data = copy.deepcopy(STATE)
    data["network"]["docker0"] = {
        "host_name": "", "addresses": [{"family": "inet", "address": "172.17.0.1",
                                        "netmask": "16", "scope": "global"}]}
    assert InstanceState.from_api(data).ipv4 == ["10.77.0.54"]


def test_stopped_state_has_no_addresses() -> None:
    state = InstanceState.from_api({"status": "Stopped", "pid": 0, "network": None})
    assert not state.running and state.ipv4 == [] and state.network == {}


def test_instance_from_full_listing() -> None:
    instance = Instance.from_api({
        "name": "coi-1", "status": "Running", "type": "container", "ephemeral": True,
        "profiles": ["default"], "config": {"user.x": "1"},
        "devices": {"ws": {"type": "disk"}}, "expanded_config": {}, "expanded_devices": {},
        "created_at": "2026-01-01", "state": STATE,
        "snapshots": [{"name": "s1"}],
    })
    assert instance.running and instance.ephemeral
    assert instance.state is not None and instance.state.ipv4 == ["10.77.0.54"]
    assert instance.snapshots == ("s1",)
    assert instance.devices == {"ws": {"type": "disk"}}


def test_snapshot_from_api() -> None:
    snap = Snapshot.from_api({"name": "c1/s1", "created_at": "t", "stateful": False,
                              "expires_at": "0001-01-01T00:00:00Z"})
    assert (snap.name, snap.expires_at, snap.size) == ("s1", "", -1)
