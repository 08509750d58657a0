"""Planning changes to table inet coi: order (fail closed at every step), generations,
removal, and that every command fits the sudo path."""

from __future__ import annotations

import re

from coi.config.model import Network
from coi.host import sudoers
from coi.host.sudoers import BASE_CHAIN_PATTERN
from coi.network import plan
from coi.network.nic import Bridge, Target
from coi.network.policy import LogSpec, NetworkPolicy
from coi.network.resolve import Resolved, resolve
from coi.network.rules import forward_rules, input_rules
from coi.network.table import Rule, TableState

BRIDGE = Bridge.from_config("incusbr0", {"ipv4.address": "10.77.0.1/24",
                                         "ipv6.address": "fd42::1/64"})
TARGET = Target.for_container("coi-abc12345-1", BRIDGE)
MAC = TARGET.mac
SKELETON = TableState(True, frozenset({"refuse", "forward", "input"}), (
    Rule("refuse", 2, verdict="reject"), Rule("refuse", 3, verdict="reject"),
    Rule("forward", 6, "unregistered", "refuse", verdict="goto"),
    Rule("input", 7, "unregistered", "refuse", verdict="goto"),
))


def installed(gen: int, handles: tuple[int, int] = (20, 21)) -> TableState:
    """The skeleton plus the container under generation `gen`."""
    f, i = f"f{gen}-{TARGET.container}", f"i{gen}-{TARGET.container}"
    return TableState(True, SKELETON.chains | {f, i}, (
        Rule("forward", handles[0], "at-100", f, MAC, verdict="jump"),
        Rule("input", handles[1], "at-100", i, MAC, verdict="jump"),
        *SKELETON.rules,
        Rule(f, 30, "internet", verdict="accept"), Rule(i, 31, "host", "refuse", verdict="goto"),
    ))


def commands(state: TableState, mode: str = "restricted") -> list[str]:
    policy = NetworkPolicy(mode=mode, log=LogSpec(3))  # type: ignore[arg-type]
    return plan.install(state, TARGET, forward_rules(TARGET, policy, Resolved()),
                        input_rules(TARGET, policy, Resolved()), stamp=1234)


def index(cmds: list[str], pattern: str) -> int:
    return next(i for i, c in enumerate(cmds) if re.search(pattern, c))


def test_fresh_table_builds_everything_in_a_fail_closed_order() -> None:
    cmds = commands(TableState(False))
    assert cmds[0] == "add table inet coi"
    refuse_rules = index(cmds, r"^add rule inet coi refuse ")
    base = index(cmds, r"^add chain inet coi forward \{")
    catch_all = index(cmds, r'^add rule inet coi forward .*"unregistered"')
    chain = index(cmds, r"^add chain inet coi f0-coi-abc12345-1$")
    last_rule = max(i for i, c in enumerate(cmds) if c.startswith("add rule inet coi f0-"))
    jump = index(cmds, r"^insert rule inet coi forward ether saddr")
    assert refuse_rules < base < catch_all < chain < last_rule < jump
    assert cmds[jump] == (f"insert rule inet coi forward ether saddr {MAC} "
                          'jump f0-coi-abc12345-1 comment "at-1234"')
    assert cmds[-1].startswith("insert rule inet coi input ")


def test_complete_skeleton_is_not_touched() -> None:
    assert plan.skeleton(SKELETON) == []
    cmds = commands(SKELETON)
    assert not any(re.match(r"add (table|chain inet coi (forward|input|refuse)$)", c)
                   for c in cmds)
    assert not any("unregistered" in c for c in cmds)


def test_reapply_builds_the_other_generation_then_swaps_in_place() -> None:
    cmds = commands(installed(0))
    assert "add chain inet coi f1-coi-abc12345-1" in cmds
    swap = cmds.index(f"replace rule inet coi forward handle 20 ether saddr {MAC} "
                      'jump f1-coi-abc12345-1 comment "at-1234"')
    assert swap > max(i for i, c in enumerate(cmds) if c.startswith("add rule inet coi f1-"))
    old = cmds.index("delete chain inet coi f0-coi-abc12345-1")
    assert cmds.index("flush chain inet coi f0-coi-abc12345-1") < old
    assert swap < old  # the old chain goes only once nothing jumps to it
    assert not any(c.startswith("insert rule") for c in cmds)
    assert plan.next_generation(installed(0), TARGET.container) == 1
    assert plan.next_generation(installed(1), TARGET.container) == 0


def test_leftover_chain_of_the_next_generation_is_flushed_not_added() -> None:
    state = installed(0)
    state = TableState(True, state.chains | {"f1-coi-abc12345-1"}, state.rules)
    cmds = commands(state)
    assert "flush chain inet coi f1-coi-abc12345-1" in cmds
    assert "add chain inet coi f1-coi-abc12345-1" not in cmds


def test_stale_jump_for_the_same_mac_is_deleted() -> None:
    stale = Rule("forward", 40, "at-1", "f0-old-name", MAC, verdict="jump")
    state = TableState(True, SKELETON.chains | {"f0-old-name"}, (stale, *SKELETON.rules))
    cmds = commands(state)
    assert "delete rule inet coi forward handle 40" in cmds
    assert cmds.index("delete rule inet coi forward handle 40") > index(cmds, "^insert rule")


def test_uninstall_takes_the_jumps_out_before_the_chains() -> None:
    cmds = plan.uninstall(installed(1), TARGET.container)
    assert cmds[:2] == ["delete rule inet coi forward handle 20",
                        "delete rule inet coi input handle 21"]
    assert cmds[2:] == ["flush chain inet coi f1-coi-abc12345-1",
                        "flush chain inet coi i1-coi-abc12345-1",
                        "delete chain inet coi f1-coi-abc12345-1",
                        "delete chain inet coi i1-coi-abc12345-1"]
    assert plan.uninstall(SKELETON, TARGET.container) == []


def test_a_prefix_sharing_container_is_left_alone() -> None:
    other = Target.for_container("coi-abc12345-10", BRIDGE)
    assert plan.uninstall(installed(0), other.container) == []


def sudo_allows(command: str, patterns: tuple[str, ...]) -> bool:
    # sudo joins the words (command.split(" ")) with spaces: the command text itself.
    return any(re.fullmatch(p, command) for p in patterns)


def test_every_command_fits_the_sudo_path_with_the_base_chain_pattern() -> None:
    policy = NetworkPolicy.from_config(Network(
        mode="allowlist", allowlist=("10.0.0.0/8:443", "2001:db8::/32", "1.2.3.4"),
        proxy="http://10.1.2.3:3128"))
    resolved = resolve(policy, BRIDGE.subnets, lookup=lambda host: [])
    every = [*plan.install(TableState(False), TARGET, forward_rules(TARGET, policy, resolved),
                           input_rules(TARGET, policy, resolved), 1),
             *commands(installed(0)), *commands(installed(1), "allowlist"),
             *plan.uninstall(installed(0), TARGET.container)]
    assert [c for c in every if not sudo_allows(c, sudoers.PATTERNS)] == []
    # Only base chain creation needs the fixed base-chain shape.
    others = tuple(p for p in sudoers.PATTERNS if p != BASE_CHAIN_PATTERN)
    needs_base = [c for c in every if not sudo_allows(c, others)]
    assert needs_base == ["add chain inet coi forward { type filter hook forward priority "
                          "filter ; }", "add chain inet coi input { type filter hook input "
                          "priority filter ; }"]


def test_base_chain_pattern_admits_nothing_else() -> None:
    for smuggled in ["add chain inet coi forward { type filter hook forward priority filter ; "
                     "policy drop ; }",
                     "add chain inet coi forward { type filter hook forward priority filter ; }"
                     " ; flush ruleset",
                     "add chain inet incus forward { type filter hook forward priority filter "
                     "; }"]:
        assert not re.fullmatch(BASE_CHAIN_PATTERN, smuggled)


def test_log_group_keeps_its_own_and_skips_others() -> None:
    from coi.network.plan import LOG_GROUPS, log_group

    empty = TableState(True, frozenset({"forward", "input"}))
    first = log_group(empty, "coi-a")
    assert LOG_GROUPS[0] <= first < LOG_GROUPS[1]
    assert log_group(empty, "coi-a") == first  # derived from the name
    taken = TableState(True, frozenset({"f0-coi-b", "f0-coi-a"}), (
        Rule("f0-coi-b", 5, log_group=first),))
    assert log_group(taken, "coi-a") not in (first, None)
    own = TableState(True, frozenset({"f0-coi-a"}), (Rule("f0-coi-a", 5, log_group=99),))
    assert log_group(own, "coi-a") == 99
