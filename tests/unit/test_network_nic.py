"""The NIC coi gives a container: deterministic MAC and veth name, isolation options."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coi.errors import PolicyError
from coi.network.nic import (
    IFNAME_MAX,
    MAC_RANGE,
    Bridge,
    Target,
    find_nic,
    mac_address,
    nic_device,
    nic_overrides,
    veth_name,
)

NAMES = st.from_regex(r"[a-z][a-z0-9-]{0,62}", fullmatch=True)


@given(NAMES)
def test_mac_is_a_unicast_locally_administered_coi_address(name: str) -> None:
    mac = mac_address(name)
    octets = [int(o, 16) for o in mac.split(":")]
    assert len(octets) == 6
    assert octets[0] & 1 == 0 and octets[0] & 2 == 2  # unicast, locally administered
    assert MAC_RANGE[0] <= mac <= MAC_RANGE[1]
    assert mac == mac_address(name)  # same name, same MAC: rules before the container


@given(NAMES)
def test_veth_name_fits_the_kernel_limit(name: str) -> None:
    veth = veth_name(name)
    assert len(veth) <= IFNAME_MAX
    assert veth.startswith("coi") and veth.isalnum()
    assert veth == veth_name(name)


def test_names_and_projects_give_different_identities() -> None:
    names = [f"coi-1a2b3c4d-{slot}" for slot in range(1, 11)]
    assert len({mac_address(n) for n in names}) == len(names)
    assert len({veth_name(n) for n in names}) == len(names)
    assert mac_address("coi-x-1", "default") != mac_address("coi-x-1", "other")


def test_nic_device_keeps_the_profile_nic_and_adds_coi_options() -> None:
    base = {"type": "nic", "network": "incusbr0", "name": "eth0", "mtu": "1400"}
    device = nic_device(base, "coi-1a2b3c4d-1")
    assert {k: device[k] for k in base} == base
    assert device["hwaddr"] == mac_address("coi-1a2b3c4d-1")
    assert device["host_name"] == veth_name("coi-1a2b3c4d-1")
    for key in ("port_isolation", "mac_filtering", "ipv4_filtering", "ipv6_filtering"):
        assert device[f"security.{key}"] == "true"
    assert nic_overrides("coi-1a2b3c4d-1").items() <= device.items()


def test_find_nic_picks_the_nic() -> None:
    devices = {"root": {"type": "disk", "path": "/"}, "eth0": {"type": "nic", "network": "b"}}
    assert find_nic(devices) == ("eth0", {"type": "nic", "network": "b"})
    with pytest.raises(PolicyError):
        find_nic({"root": {"type": "disk"}})


def test_bridge_from_network_config() -> None:
    both = Bridge.from_config("incusbr0", {"ipv4.address": "10.77.0.1/24",
                                           "ipv6.address": "fd42::1/64"})
    assert both.gateway4 == ("10.77.0.1",) and both.gateway6 == ("fd42::1",)
    assert both.subnets == (ipaddress.ip_network("10.77.0.0/24"),
                            ipaddress.ip_network("fd42::/64"))
    v4 = Bridge.from_config("b", {"ipv4.address": "10.0.3.1/24", "ipv6.address": "none"})
    assert v4.gateway6 == () and len(v4.subnets) == 1
    assert Bridge.from_config("b", {}).gateways == ()


def test_target_for_container() -> None:
    bridge = Bridge.from_config("b", {"ipv4.address": "10.0.3.1/24"})
    target = Target.for_container("coi-x-1", bridge)
    assert target.mac == mac_address("coi-x-1") and target.bridge is bridge
