"""Allowlist entries, the proxy URL and the policy built from `[network]` config."""

from __future__ import annotations

import ipaddress

import pytest

from coi.config.model import Network
from coi.errors import ConfigError
from coi.network.policy import NetworkPolicy, parse_destination, parse_proxy


@pytest.mark.parametrize(("entry", "host", "network", "ports"), [
    ("api.anthropic.com", "api.anthropic.com", None, ()),
    ("API.Anthropic.COM.", "api.anthropic.com", None, ()),
    ("registry.npmjs.org:443", "registry.npmjs.org", None, (443,)),
    ("localhost", "localhost", None, ()),
    ("8.8.8.8", None, "8.8.8.8/32", ()),
    ("8.8.8.8:53", None, "8.8.8.8/32", (53,)),
    ("10.0.0.0/8", None, "10.0.0.0/8", ()),
    ("10.1.2.3/8", None, "10.0.0.0/8", ()),  # host bits dropped, as users write it
    ("192.168.1.0/24:8080", None, "192.168.1.0/24", (8080,)),
    ("2001:db8::1", None, "2001:db8::1/128", ()),
    ("2001:db8::/32", None, "2001:db8::/32", ()),
    ("[2001:db8::1]:443", None, "2001:db8::1/128", (443,)),
])
def test_destination_forms(entry: str, host: str | None, network: str | None,
                           ports: tuple[int, ...]) -> None:
    dest = parse_destination(entry)
    assert dest.host == host
    assert dest.network == (ipaddress.ip_network(network) if network else None)
    assert dest.ports == ports


@pytest.mark.parametrize("entry", [
    "*.anthropic.com", "api.*.com", "https://api.anthropic.com", "", "  ",
    "api.anthropic.com:0", "api.anthropic.com:65536", "api.anthropic.com:https",
    "bad_name.example", "-leading.example", "a b.example", "10.0.0.0/33", "1.2.3",
    "[2001:db8::1]x", "example.com/path",
])
def test_bad_destinations_are_refused_with_the_entry_named(entry: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_destination(entry)
    assert repr(entry) in caught.value.message


@pytest.mark.parametrize(("url", "host", "network", "port"), [
    ("http://proxy.corp:3128", "proxy.corp", None, 3128),
    ("http://10.1.2.3:8080/", None, "10.1.2.3/32", 8080),
    ("https://proxy.corp", "proxy.corp", None, 443),
    ("http://user:pw@proxy.corp:3128", "proxy.corp", None, 3128),
    ("socks5h://[fd00::5]:1080", None, "fd00::5/128", 1080),
])
def test_proxy_url_gives_host_and_port(url: str, host: str | None, network: str | None,
                                       port: int) -> None:
    dest = parse_proxy(url)
    assert dest is not None
    assert (dest.host, dest.ports) == (host, (port,))
    assert dest.network == (ipaddress.ip_network(network) if network else None)


def test_no_proxy_and_bad_proxy() -> None:
    assert parse_proxy("") is None
    with pytest.raises(ConfigError):
        parse_proxy("ftp://")


def test_from_config_defaults_are_restricted_and_block_everything() -> None:
    policy = NetworkPolicy.from_config(Network())
    assert policy.mode == "restricted"
    assert policy.filtered
    assert policy.block_private and policy.block_link_local
    assert policy.proxy is None
    assert policy.refresh_seconds == 30 * 60
    assert policy.hostnames == ()  # restricted mode resolves nothing (no proxy)


@pytest.mark.parametrize(("block", "allow_local", "blocked"), [
    (True, False, True), (False, False, False), (True, True, False), (False, True, False),
])
def test_private_ranges_follow_both_switches(block: bool, allow_local: bool,
                                              blocked: bool) -> None:
    network = Network(block_private_networks=block, allow_local_network_access=allow_local)
    assert NetworkPolicy.from_config(network).block_private is blocked


def test_tool_domains_join_the_allowlist_once() -> None:
    network = Network(mode="allowlist", allowlist=("api.anthropic.com", "10.0.0.5"),
                      block_metadata_endpoint=False, refresh_interval_minutes=5,
                      proxy="http://proxy.corp:3128")
    policy = NetworkPolicy.from_config(network, ["statsig.anthropic.com", "api.anthropic.com"])
    assert [d.text for d in policy.allowlist] == [
        "api.anthropic.com", "10.0.0.5", "statsig.anthropic.com"]
    assert policy.hostnames == ("api.anthropic.com", "statsig.anthropic.com", "proxy.corp")
    assert not policy.block_link_local
    assert policy.refresh_seconds == 300


def test_flag_overrides_the_configured_mode() -> None:
    policy = NetworkPolicy.from_config(Network(mode="allowlist"), mode="open")
    assert policy.mode == "open"
    assert not policy.filtered
    assert policy.hostnames == ()


def test_a_bad_tool_domain_is_refused() -> None:
    with pytest.raises(ConfigError):
        NetworkPolicy.from_config(Network(), ["*.example.com"])


def test_log_spec_follows_monitoring_config() -> None:
    from coi.config.model import Monitoring, NftMonitoring
    from coi.network.policy import LogSpec

    spec = LogSpec.from_config(Monitoring(nft=NftMonitoring(rate_limit_per_second=20,
                                                            log_dns_queries=False)))
    assert spec == LogSpec(group=None, rate=20, dns=False)
    assert LogSpec.from_config(Monitoring(enabled=False)) is None
    assert LogSpec.from_config(Monitoring(nft=NftMonitoring(enabled=False))) is None
