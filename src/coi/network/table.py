"""`nft -j -a list table inet coi`, read into the few facts coi acts on.

Only what planning and checking need: which chains exist, and per rule its chain,
handle, comment, jump or goto target, the source MAC it matches, its counter, the
verdict it ends in and the nflog group it logs to. Anything else in the JSON is ignored.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from coi.errors import PolicyError

CHAIN_NAME = re.compile(r"([fi])([01])-(.+)")
STAMP = re.compile(r"at-(\d+)")


@dataclass(frozen=True)
class Rule:
    chain: str
    handle: int
    comment: str = ""
    target: str = ""  # jump or goto target
    mac: str = ""  # `ether saddr` it matches, if a single address
    packets: int = 0
    verdict: str = ""  # accept, drop, reject, jump, goto, or "" (none)
    log_group: int | None = None  # `log ... group G`

    @property
    def stamp(self) -> int | None:
        """When coi last (re)applied this container's rules, from a jump's comment."""
        match = STAMP.fullmatch(self.comment)
        return int(match.group(1)) if match else None


@dataclass(frozen=True)
class Owned:
    """Whose a per-container chain is, and its generation."""

    kind: str  # "f" (forward) or "i" (input)
    generation: int
    container: str


def owner(chain: str) -> Owned | None:
    match = CHAIN_NAME.fullmatch(chain)
    return Owned(match.group(1), int(match.group(2)), match.group(3)) if match else None


@dataclass(frozen=True)
class TableState:
    exists: bool
    chains: frozenset[str] = frozenset()
    rules: tuple[Rule, ...] = ()
    hooks: frozenset[tuple[str, str]] = frozenset()  # (base chain, its hook)

    def hook_of(self, chain: str) -> str | None:
        """The hook of base chain `chain` (None: a regular chain, or no such chain)."""
        return next((h for c, h in self.hooks if c == chain), None)

    def rules_in(self, chain: str) -> list[Rule]:
        return [r for r in self.rules if r.chain == chain]

    def jumps(self, container: str) -> list[Rule]:
        """The base-chain rules that send traffic to one of `container`'s chains."""
        return [r for r in self.rules if r.verdict == "jump" and (o := owner(r.target))
                and o.container == container]

    def generation(self, container: str) -> int | None:
        found = [owner(r.target) for r in self.jumps(container)]
        return found[0].generation if found and found[0] else None

    def chains_of(self, container: str) -> list[str]:
        return sorted(c for c in self.chains if (o := owner(c)) and o.container == container)

    def containers(self) -> set[str]:
        """Every container that has a chain here."""
        return {o.container for c in self.chains if (o := owner(c))}

    def log_group(self, container: str) -> int | None:
        """The nflog group `container`'s rules log to (None: they do not log)."""
        mine = set(self.chains_of(container))
        return next((r.log_group for r in self.rules
                     if r.chain in mine and r.log_group is not None), None)

    def log_groups(self, but: str = "") -> set[int]:
        """The nflog groups of every container's rules (except `but`'s)."""
        theirs = {c for c in self.chains if (o := owner(c)) and o.container != but}
        return {r.log_group for r in self.rules
                if r.chain in theirs and r.log_group is not None}

    def find(self, chain: str, comment: str) -> Rule | None:
        return next((r for r in self.rules_in(chain) if r.comment == comment), None)


def parse(text: str) -> TableState:
    try:
        items = json.loads(text)["nftables"]
    except (ValueError, KeyError, TypeError) as exc:
        raise PolicyError(f"cannot read nft's listing of table inet coi: {exc}") from None
    chains = frozenset(i["chain"]["name"] for i in items if "chain" in i)
    rules = tuple(_rule(i["rule"]) for i in items if "rule" in i)
    hooks = frozenset((i["chain"]["name"], str(i["chain"]["hook"])) for i in items
                      if "chain" in i and "hook" in i["chain"])
    return TableState(True, chains, rules, hooks)


def _rule(data: dict[str, Any]) -> Rule:
    target = verdict = mac = ""
    packets = 0
    group: int | None = None
    for key, value in (item for expr in data.get("expr", ()) for item in expr.items()):
        if key in ("jump", "goto"):
            target, verdict = value["target"], key
        elif key in ("accept", "drop", "reject"):
            verdict = key
        elif key == "log" and isinstance(value, dict) and "group" in value:
            group = int(value["group"])
        elif key == "counter":
            packets = int(value.get("packets", 0))
        elif key == "match" and _is_ether_saddr(value) and isinstance(value["right"], str):
            mac = value["right"]
    return Rule(data["chain"], int(data["handle"]), str(data.get("comment", "")),
                target, mac, packets, verdict, group)


def _is_ether_saddr(match: dict[str, Any]) -> bool:
    payload = (match.get("left") or {}).get("payload") or {}
    return payload.get("protocol") == "ether" and payload.get("field") == "saddr"
