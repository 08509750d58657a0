"""coi's nftables table on the real kernel, without containers: install, replace,
remove, orphans, the sudo-path ordering, failing closed, and the health checks.

Rules are keyed on MACs no interface here has (coi containers' MACs for names that do
not exist), so nothing in this file changes how any real traffic is treated.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator, Sequence

import pytest

from coi.errors import PolicyError
from coi.host.health import Status
from coi.incus.client import Client
from coi.network import firewall, plan
from coi.network.health import ClientProbe, check_firewall, check_isolation
from coi.network.nft import Nft, Output, run_process
from coi.network.nic import Bridge, Target
from coi.network.policy import LogSpec, NetworkPolicy, parse_destination, parse_proxy
from coi.network.resolve import Resolved

BRIDGE = Bridge.from_config("incusbr0", {"ipv4.address": "10.77.0.1/24",
                                         "ipv6.address": "fd42:77::1/64"})
RICH = NetworkPolicy(mode="allowlist", log=LogSpec(group=9),
                     allowlist=(parse_destination("203.0.113.5"),
                                parse_destination("198.51.100.0/24:443"),
                                parse_destination("[2001:db8::1]:443")),
                     proxy=parse_proxy("http://10.1.2.3:3128"))


@pytest.fixture
def names() -> Iterator[list[str]]:
    made: list[str] = []
    yield made
    for name in made:
        firewall.remove(name)


def fresh(names: list[str]) -> Target:
    name = f"coi-nt{uuid.uuid4().hex[:8]}"
    names.append(name)
    return Target.for_container(name, BRIDGE)


def listing() -> str:
    out = subprocess.run(["nft", "-j", "list", "table", "inet", "coi"], capture_output=True,
                         text=True, check=False)
    return out.stdout


def stepwise_as_root() -> Nft:
    """The sudo path's one-command-per-call order, run as root without sudo."""
    def run(argv: Sequence[str], stdin: str) -> Output:
        assert list(argv[:2]) == ["sudo", "-n"]
        return run_process(argv[2:], stdin)

    return Nft(sudo=True, runner=run)


def chain_text(chain: str) -> list[str]:
    out = subprocess.run(["nft", "list", "chain", "inet", "coi", chain],
                         capture_output=True, text=True, check=True).stdout
    return [line.strip() for line in out.splitlines()[2:-2]]


def test_apply_then_remove_leaves_no_trace(names: list[str]) -> None:
    target = fresh(names)
    applied = firewall.apply(target, NetworkPolicy(), resolved=Resolved())
    assert applied.seconds < 1
    assert target.container in listing() and target.mac in listing()
    assert firewall.remove(target.container)
    after = listing()
    assert target.container not in after and target.mac not in after
    for chain in ("forward", "input", "refuse"):  # the shared part stays
        assert f'"name": "{chain}"' in after
    assert not firewall.remove(target.container)  # nothing left to remove


def test_rules_load_in_every_mode_with_logging(names: list[str]) -> None:
    target = fresh(names)
    for mode in ("restricted", "allowlist", "open"):
        policy = NetworkPolicy(mode=mode, allowlist=RICH.allowlist,
                               proxy=RICH.proxy, log=RICH.log)
        applied = firewall.apply(target, policy)
        chain = f"f{applied.generation}-{target.container}"
        assert len(chain_text(chain)) == len(applied.forward)


def test_reapply_swaps_generations_in_one_step(names: list[str]) -> None:
    target = fresh(names)
    first = firewall.apply(target, NetworkPolicy(), resolved=Resolved())
    second = firewall.apply(target, RICH)
    assert {first.generation, second.generation} == {0, 1}
    state = Nft().list_table()
    assert state.chains_of(target.container) == sorted(
        f"{k}{second.generation}-{target.container}" for k in "fi")
    assert len(state.jumps(target.container)) == 2


def test_sudo_order_builds_the_same_table_as_the_transaction(names: list[str]) -> None:
    by_transaction, by_steps = fresh(names), fresh(names)
    firewall.apply(by_transaction, RICH)
    firewall.apply(by_steps, RICH, nft=stepwise_as_root())
    firewall.apply(by_steps, RICH, nft=stepwise_as_root())  # and the swap, step by step
    for kind, gen in (("f", 0), ("i", 0)):
        a = chain_text(f"{kind}{gen}-{by_transaction.container}")
        b = chain_text(f"{kind}1-{by_steps.container}")
        strip = [line.split(" # handle")[0].replace(by_transaction.container, "X") for line in a]
        assert strip == [line.split(" # handle")[0].replace(by_steps.container, "X")
                         for line in b]
    assert firewall.remove(by_steps.container, nft=stepwise_as_root())
    assert by_steps.container not in listing()


def test_missing_nft_fails_closed(names: list[str]) -> None:
    with pytest.raises(PolicyError, match="not installed"):
        firewall.apply(fresh(names), NetworkPolicy(), resolved=Resolved(),
                       nft=Nft(binary="/nonexistent/nft", sudo=False))


def test_unprivileged_nft_fails_closed(names: list[str]) -> None:
    def as_nobody(argv: Sequence[str], stdin: str) -> Output:
        return run_process(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                            *argv], stdin)

    target = fresh(names)
    with pytest.raises(PolicyError, match="nft failed") as caught:
        firewall.apply(target, NetworkPolicy(), resolved=Resolved(),
                       nft=Nft(sudo=False, runner=as_nobody))
    assert "--network=open" in str(caught.value.hint)
    assert target.container not in listing()


def test_orphans_are_found_and_cleaned(names: list[str]) -> None:
    alive, gone = fresh(names), fresh(names)
    for target in (alive, gone):
        firewall.apply(target, NetworkPolicy(), resolved=Resolved())
    assert gone.container not in firewall.orphans([alive.container])  # too young
    found = firewall.orphans([alive.container], grace=0)
    assert gone.container in found and alive.container not in found
    assert gone.container in firewall.clean_orphans([alive.container], grace=0)
    assert gone.container not in listing() and alive.container in listing()


def test_prepare_table_is_idempotent() -> None:
    firewall.prepare_table()
    assert firewall.prepare_table() is False
    assert plan.skeleton(Nft().list_table()) == []
    chains = {i["chain"]["name"] for i in json.loads(listing())["nftables"] if "chain" in i}
    assert {"forward", "input", "refuse"} <= chains


def test_health_check_passes_and_leaves_no_probe() -> None:
    result = check_firewall()
    assert result.status is Status.OK, result
    assert "coi-health" not in listing()
    broken = check_firewall(nft=Nft(binary="/nonexistent/nft", sudo=False))
    assert broken.status is Status.FAIL


def test_isolation_check_passes_here(incus: Client) -> None:
    result = check_isolation(ClientProbe(incus))
    assert result.status is Status.OK, result
    tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True,
                            check=False).stdout
    assert "bridge coi-health" not in tables
