"""`coi setup` against the real daemon: idempotence, and the pool/bridge/profile steps.

The creation steps run under test-only names (coi-test-pool-…, coi-test-br…,
coi-test-prof-…) and are deleted afterwards, so the host's own setup is never touched.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from coi.errors import NotFound
from coi.host import subnet
from coi.incus.client import Client

COI = str(Path(sys.executable).with_name("coi"))

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="coi setup must run as root")


def coi(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([COI, *args], capture_output=True, text=True, timeout=timeout,
                          check=False)


def marks(output: str) -> list[str]:
    """The status mark of every step line: ok, +, -, !, .., or blank for planned."""
    return [line[1:line.index("]")] for line in output.splitlines() if line.startswith("[")]


@pytest.mark.timeout(3600)  # on a fresh host the first run installs and bootstraps
def test_second_run_has_nothing_to_do_and_keeps_the_image(incus: Client) -> None:
    first = coi("setup", timeout=3000)
    assert first.returncode == 0, first.stdout + first.stderr
    started = time.monotonic()
    second = coi("setup")
    elapsed = time.monotonic() - started
    assert second.returncode == 0, second.stdout + second.stderr
    assert set(marks(second.stdout)) <= {"ok", "-"}, second.stdout
    assert second.stdout.splitlines()[-1].startswith("nothing to do")
    assert "[ok] image coi-base (" in second.stdout
    assert elapsed < 10, f"a run with nothing to do took {elapsed:.1f} s"


@pytest.fixture
def names(incus: Client) -> Iterator[dict[str, str]]:
    suffix = uuid.uuid4().hex[:4]
    made = {"pool": f"coi-test-pool-{suffix}", "network": f"coi-test-br{suffix}",
            "profile": f"coi-test-prof-{suffix}"}
    yield made
    for kind, name in (("profiles", made["profile"]), ("networks", made["network"]),
                       ("storage-pools", made["pool"])):
        with contextlib.suppress(NotFound):
            incus.sync("DELETE", f"/{kind}/{name}", timeout=120)


def setup_args(names: dict[str, str]) -> list[str]:
    return ["setup", "--no-image", "--storage-size", "3GiB", "--pool", names["pool"],
            "--network", names["network"], "--profile", names["profile"]]


def test_dry_run_plans_and_changes_nothing(incus: Client, names: dict[str, str]) -> None:
    dry = coi(*setup_args(names), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert f"[ ] create storage pool {names['pool']}" in dry.stdout
    assert f"[ ] create bridge {names['network']} on 10." in dry.stdout
    assert f"[ ] create profile {names['profile']}" in dry.stdout
    assert "3 step(s) would change this host" in dry.stdout
    with pytest.raises(NotFound):
        incus.get(f"/storage-pools/{names['pool']}")


def ipv4_of(incus: Client, name: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state: dict[str, Any] = incus.get(f"/instances/{name}/state")
        eth0 = (state.get("network") or {}).get("eth0") or {}
        for address in eth0.get("addresses") or []:
            if address.get("family") == "inet":
                return str(address["address"])
        time.sleep(0.5)
    raise AssertionError(f"{name} got no IPv4 address in {timeout:.0f} s")


def test_pool_bridge_and_profile_are_created_once_and_work(
        incus: Client, base_image: str, names: dict[str, str],
        new_name: Callable[[], str]) -> None:
    first = coi(*setup_args(names))
    assert first.returncode == 0, first.stdout + first.stderr
    assert f"[+] created storage pool {names['pool']}" in first.stdout
    assert f"[+] created bridge {names['network']}" in first.stdout
    assert f"[+] created profile {names['profile']}" in first.stdout
    again = coi(*setup_args(names))
    assert set(marks(again.stdout)) <= {"ok", "-"}, again.stdout

    pool = incus.get(f"/storage-pools/{names['pool']}")
    drivers = [d["Name"] for d in incus.server_info()["environment"]["storage_supported_drivers"]]
    assert pool["driver"] == ("btrfs" if "btrfs" in drivers else "dir")
    net = incus.get(f"/networks/{names['network']}")["config"]
    assert (net["ipv4.nat"], net["ipv6.address"]) == ("true", "none")
    bridge = ipaddress.IPv4Interface(net["ipv4.address"]).network
    others = [n for n in subnet.host_networks() if not n.subnet_of(bridge)]
    assert not any(bridge.overlaps(other) for other in others)

    name = new_name()
    incus.sync("POST", "/instances", {"name": name, "profiles": [names["profile"]],
                                      "source": {"type": "image", "alias": base_image},
                                      "start": True}, timeout=300)
    assert ipaddress.IPv4Address(ipv4_of(incus, name)) in bridge
