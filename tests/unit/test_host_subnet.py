"""Choosing the bridge subnet so it collides with nothing on the host."""

from __future__ import annotations

import ipaddress

import pytest

from coi.errors import SetupError
from coi.host import subnet

Net = ipaddress.IPv4Network

# `ip -j -4 route show table all` and `ip -j -4 addr` as this development host prints them.
ROUTES = [{"dst": "default", "gateway": "192.0.2.1", "dev": "eth0"},
          {"dst": "10.77.0.0/24", "dev": "incusbr0", "prefsrc": "10.77.0.1"},
          {"type": "local", "dst": "10.77.0.1", "dev": "incusbr0", "table": "local"},
          {"dst": "192.0.2.0/24", "dev": "eth0"}]
ADDRS = [{"ifname": "lo", "addr_info": [{"family": "inet", "local": "127.0.0.1",
                                         "prefixlen": 8}]},
         {"ifname": "eth0", "addr_info": [{"family": "inet", "local": "192.0.2.2",
                                           "prefixlen": 24},
                                          {"family": "inet6", "local": "fe80::1",
                                           "prefixlen": 64}]}]


def test_routes_skip_the_default_route() -> None:
    assert subnet.routes_in(ROUTES) == [Net("10.77.0.0/24"), Net("10.77.0.1/32"),
                                        Net("192.0.2.0/24")]


def test_addresses_are_read_as_their_subnets() -> None:
    assert subnet.addresses_in(ADDRS) == [Net("127.0.0.0/8"), Net("192.0.2.0/24")]


def test_first_free_candidate_is_chosen() -> None:
    used = subnet.routes_in(ROUTES) + subnet.addresses_in(ADDRS)
    assert subnet.choose_subnet(used) == Net("10.77.1.0/24")
    assert subnet.choose_subnet([]) == Net("10.77.0.0/24")


def test_wider_routes_are_avoided_too() -> None:
    assert subnet.choose_subnet([Net("10.77.0.0/16")]) == Net("10.78.0.0/24")
    assert subnet.choose_subnet([Net("10.0.0.0/8")]) == Net("192.168.77.0/24")


def test_no_candidate_left_is_a_setup_error_with_a_way_out() -> None:
    with pytest.raises(SetupError) as err:
        subnet.choose_subnet([Net("0.0.0.0/1"), Net("128.0.0.0/1")])
    assert "--subnet" in str(err.value)


def test_existing_incus_networks_count_as_used() -> None:
    nets = [{"config": {"ipv4.address": "10.77.5.1/24"}}, {"config": {"ipv4.address": "none"}},
            {"config": {}}]
    assert subnet.incus_networks_in(nets) == [Net("10.77.5.0/24")]


def test_bridge_config_uses_the_first_host_and_nat() -> None:
    assert subnet.bridge_config(Net("10.77.3.0/24")) == {
        "ipv4.address": "10.77.3.1/24", "ipv4.nat": "true", "ipv6.address": "none"}
