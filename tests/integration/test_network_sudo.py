"""Every nft command coi.network runs without root, asked of real sudo in a container.

The host has no sudo, coi-base has: the container gets the sudoers entry of
`coi.host.sudoers` (with and without `coi.host.sudoers.BASE_CHAIN_PATTERN`) and
`sudo -l -U alice` says, per command, whether a member of incus-admin may run it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from coi.host import sudoers
from coi.host.sudoers import BASE_CHAIN_PATTERN
from coi.incus import instances
from coi.incus.client import Client
from coi.network import plan
from coi.network.health import probe_commands
from coi.network.nic import Bridge, Target
from coi.network.policy import LogSpec, NetworkPolicy, parse_destination, parse_proxy
from coi.network.resolve import Resolved, resolve
from coi.network.rules import forward_rules, input_rules
from coi.network.table import Rule, TableState
from tests.integration import netlab
from tests.integration.test_setup_sudoers import PREPARE, ask, incus_cli

NFT = "/usr/sbin/nft"
BRIDGE = Bridge.from_config("incusbr0", {"ipv4.address": "10.77.0.1/24",
                                         "ipv6.address": "fd42::1/64"})
TARGET = Target.for_container("coi-1a2b3c4d-1", BRIDGE)


def every_command() -> list[str]:
    """What coi runs through sudo: a fresh install, a swap, a removal, the health probe,
    the listing; in every mode, with logging, proxy and ports."""
    cmds = ["-j -a list table inet coi", *probe_commands()]
    old = TableState(True, frozenset({"refuse", "forward", "input", "f0-coi-1a2b3c4d-1"}), (
        Rule("forward", 12, "at-5", "f0-coi-1a2b3c4d-1", TARGET.mac, verdict="jump"),
        Rule("input", 13, "at-5", "i0-coi-1a2b3c4d-1", TARGET.mac, verdict="jump")))
    for mode in ("restricted", "allowlist", "open"):
        policy = NetworkPolicy(mode=mode, log=LogSpec(3),
                               allowlist=(parse_destination("198.51.100.0/24:443"),
                                          parse_destination("[2001:db8::1]:443")),
                               proxy=parse_proxy("http://10.1.2.3:3128"))
        resolved: Resolved = resolve(policy, BRIDGE.subnets, lookup=lambda host: [])
        rules = forward_rules(TARGET, policy, resolved), input_rules(TARGET, policy, resolved)
        cmds += plan.install(TableState(False), TARGET, *rules, stamp=1)
        cmds += plan.install(old, TARGET, *rules, stamp=2)
    cmds += plan.uninstall(old, TARGET.container)
    return list(dict.fromkeys(cmds))


def entry(extra: tuple[str, ...]) -> str:
    text = sudoers.sudoers_text(NFT)
    head = "Cmnd_Alias COI_NFT = \\\n    "
    return text.replace(head, head + "".join(f"{NFT} {p}, \\\n    " for p in extra))


@pytest.fixture
def sudo_box(incus: Client, base_image: str) -> Iterator[str]:
    name = netlab.new_name()
    try:
        instances.create(incus, name, image=base_image, start=True, timeout=300)
        deadline = time.monotonic() + 60
        while incus_cli("exec", name, "--", "true").returncode != 0:
            assert time.monotonic() < deadline, "container did not start"
            time.sleep(0.5)
        prepared = incus_cli("exec", name, "--", "sh", "-c", PREPARE)
        assert prepared.returncode == 0, prepared.stderr
        yield name
    finally:
        instances.delete(incus, name, force=True, missing_ok=True)


def install(box: str, text: str) -> None:
    pushed = incus_cli("file", "push", "-", f"{box}/etc/sudoers.d/coi", "--mode", "0440",
                       "--uid", "0", "--gid", "0", stdin=text)
    assert pushed.returncode == 0, pushed.stderr
    checked = incus_cli("exec", box, "--", "visudo", "-c")
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_sudo_allows_every_command_coi_network_runs(sudo_box: str) -> None:
    commands = every_command()
    base_chains = {c for c in commands if c.startswith(("add chain inet coi forward {",
                                                        "add chain inet coi input {"))}
    assert len(base_chains) == 2

    assert BASE_CHAIN_PATTERN in sudoers.PATTERNS
    install(sudo_box, entry(()))
    answers = ask(sudo_box, "alice", commands)
    assert len(answers) == len(commands)
    assert [c for c, ok in answers.items() if not ok] == []
    smuggled = [
        "add chain inet coi forward { type filter hook forward priority filter ; policy drop ; }",
        "add chain inet coi forward { type filter hook forward priority filter ; } ; "
        "flush ruleset",
        "add chain inet incus forward { type filter hook forward priority filter ; }",
    ]
    assert not any(ask(sudo_box, "alice", smuggled).values())
    assert not any(ask(sudo_box, "bob", sorted(base_chains)).values())
