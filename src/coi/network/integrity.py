"""Is a container's policy still in the kernel as coi installed it? Put it back if not.

`check` compares the live table with what `firewall.apply` installed (an `Applied`):
the base chains on their hooks, the shared `refuse` chain and its rules, the catch-all
refusing unregistered coi MACs in each base chain, the container's jumps (its MAC to its
chains) and, per chain, the sequence of (comment, verdict) of its rules, which is what
the rule text gives (`forward_rules` / `input_rules`). So a deleted rule, a changed
verdict, a flushed chain, a flushed or deleted table are all seen; a rule whose match
was edited in place with the same comment and verdict is not (nothing coi does edits
rules in place). A re-apply by another coi process (the other generation's chains with
the same rules) is not a problem.

`repair` re-applies (`firewall.apply`, one transaction as root): it rebuilds whatever
part of the skeleton is missing and swaps the container's chains to the other
generation. The supervisor calls `check` when `NftWatch` says table inet coi changed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from coi.network import firewall
from coi.network.firewall import Applied
from coi.network.nft import Nft
from coi.network.nic import Target
from coi.network.policy import NetworkPolicy
from coi.network.resolve import Resolved
from coi.network.rules import BASE_CHAINS, REFUSE, REFUSE_RULES, UNREGISTERED, chain_names
from coi.network.table import Rule, TableState

VERDICTS = ("accept", "drop", "reject", "jump", "goto", "return", "continue", "queue")
COMMENT = re.compile(r'comment "([^"]*)"$')
QUOTED = re.compile(r'"[^"]*"')


def signature(rule: str) -> tuple[str, str]:
    """(comment, verdict) of a rule as coi writes it; a jump or goto names its target."""
    match = COMMENT.search(rule)
    words = QUOTED.sub("", rule).split()
    verdict = ""
    for i, word in enumerate(words):
        if word in VERDICTS:
            verdict = word
            if word in ("jump", "goto") and i + 1 < len(words):
                verdict = f"{word} {words[i + 1]}"
    return (match.group(1) if match else ""), verdict


def live_signature(rule: Rule) -> tuple[str, str]:
    verdict = f"{rule.verdict} {rule.target}" if rule.target else rule.verdict
    return rule.comment, verdict


def check(container: str, expected: Applied, *, state: TableState | None = None,
          nft: Nft | None = None) -> list[str]:
    """What is wrong with `container`'s rules in the live table ([] if nothing). Reads
    the table unless `state` is given; PolicyError when nft cannot list it."""
    if expected.generation is None:  # open mode without coi's table: nothing to check
        return []
    state = state if state is not None else (nft or Nft()).list_table()
    if not state.exists:
        return ["table inet coi is gone"]
    problems = skeleton_problems(state)
    generation = state.generation(container)
    if generation is None:
        generation = expected.generation
    chains = chain_names(container, generation)
    jumps = state.jumps(container)
    for (base, chain), rules in zip(zip(BASE_CHAINS, chains, strict=True),
                                    (expected.forward, expected.inputs), strict=True):
        mine = [r for r in jumps if r.chain == base]
        if not any(r.target == chain and r.mac == expected.target.mac for r in mine):
            problems.append(f"chain {base} no longer sends {container}'s traffic "
                            f"({expected.target.mac}) to {chain}")
        if chain not in state.chains:
            problems.append(f"chain {chain} is gone")
            continue
        problems += chain_problems(chain, [live_signature(r) for r in state.rules_in(chain)],
                                   [signature(r) for r in rules])
    return problems


def skeleton_problems(state: TableState) -> list[str]:
    """The shared part: base chains on their hooks, `refuse`, the catch-all."""
    problems = []
    for chain, hook in BASE_CHAINS.items():
        if chain not in state.chains:
            problems.append(f"base chain {chain} is gone")
            continue
        if state.hook_of(chain) != hook:
            problems.append(f"chain {chain} is not on the {hook} hook")
        catch = state.find(chain, UNREGISTERED)
        if catch is None or live_signature(catch)[1] != f"goto {REFUSE}":
            problems.append(f"chain {chain} lacks the rule refusing unregistered coi MACs")
    if REFUSE not in state.chains:
        problems.append(f"chain {REFUSE} is gone")
    else:
        live = [live_signature(r) for r in state.rules_in(REFUSE)]
        want = [signature(r) for r in REFUSE_RULES]
        # A second copy of the shared refusals (two repairs racing before the table
        # lock existed) refuses the same: not a problem of this session's rules.
        if not (live and len(live) % len(want) == 0
                and live == want * (len(live) // len(want))):
            problems += chain_problems(REFUSE, live, want)
    return problems


def chain_problems(chain: str, live: Sequence[tuple[str, str]],
                   want: Sequence[tuple[str, str]]) -> list[str]:
    if list(live) == list(want):
        return []
    if not live:
        return [f"chain {chain} is empty (flushed): {len(want)} rules missing"]
    if len(live) != len(want):
        return [f"chain {chain} holds {len(live)} rules, not the {len(want)} coi installed"]
    diff = next(i for i, (a, b) in enumerate(zip(live, want, strict=True)) if a != b)
    comment, verdict = want[diff]
    return [f"rule {diff + 1} of chain {chain} ({comment or 'no comment'}) ends in "
            f"{live[diff][1] or 'no verdict'}, not {verdict or 'no verdict'}"]


def repair(target: Target, policy: NetworkPolicy, *, resolved: Resolved | None = None,
           nft: Nft | None = None) -> firewall.Applied:
    """Re-apply the policy (see `firewall.apply`). Pass the last `Applied.resolved` so
    an allowlist is not resolved again (which may take seconds) while the rules are
    broken; pass `Applied.policy`, which carries the nflog group in use."""
    return firewall.apply(target, policy, nft=nft, resolved=resolved)


def restore(applied: Applied, *, nft: Nft | None = None) -> Applied:
    """`repair` with everything taken from the last `Applied`."""
    return repair(applied.target, applied.policy, resolved=applied.resolved, nft=nft)
