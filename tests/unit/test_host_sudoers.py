"""The sudoers entry: what it allows, what it refuses, and its safe installation.

The same cases were checked against real sudo 1.9.13 (`sudo -l -U alice /usr/sbin/nft …`);
the integration test test_setup_sudoers.py repeats that inside a container.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from coi.errors import SetupError
from coi.host import sudoers

ALLOWED = [
    "list table inet coi",
    "-j list table inet coi",
    "-j -a list table inet coi",
    "add table inet coi",
    "delete table inet coi",
    "add chain inet coi fwd { type filter hook forward priority 0 }",
    'add rule inet coi fwd ip saddr 10.77.0.5 ip daddr { 1.2.3.4, 5.6.7.8 } tcp dport 443 '
    'accept comment "coi-10.77.0.5"',
    "add rule inet coi fwd ip6 daddr fd00::1 drop",
    "insert rule inet coi fwd ip daddr != 10.0.0.0/8 accept",
    "delete rule inet coi fwd handle 12",
    "add element inet coi allow_v4 { 10.77.0.5 . 1.2.3.4 }",
]
REFUSED = [
    "list ruleset",
    "flush ruleset",
    "list table inet filter",
    "add rule inet filter input accept",
    "add rule inet coi2 x accept",
    "add rule inet coi fwd ip daddr 1.2.3.4 accept ; flush ruleset",
    "add rule inet coi fwd ip daddr 1.2.3.4 accept\nflush ruleset",
    "add rule inet coi fwd accept # hidden",
    "add rule inet coi fwd accept \\ x",
    "add chain inet coi fwd { type filter hook forward priority 0; policy drop; }",
    "-f /tmp/rules.nft",
    "-i",
]


def allowed(args: str) -> bool:
    # sudo joins the arguments with spaces and matches each POSIX ERE against the whole.
    return any(re.fullmatch(pattern, args) for pattern in sudoers.PATTERNS)


@pytest.mark.parametrize("args", ALLOWED)
def test_coi_table_commands_are_allowed(args: str) -> None:
    assert allowed(args)


@pytest.mark.parametrize("args", REFUSED)
def test_everything_else_is_refused(args: str) -> None:
    assert not allowed(args)


def test_the_entry_names_the_group_binary_and_every_pattern() -> None:
    text = sudoers.sudoers_text(nft="/usr/sbin/nft")
    assert "%incus-admin ALL=(root) NOPASSWD: COI_NFT" in text
    for pattern in sudoers.PATTERNS:
        assert f"/usr/sbin/nft {pattern}" in text
    assert text.endswith("\n")


def fake_visudo(tmp_path: Path, status: int) -> str:
    script = tmp_path / "visudo"
    script.write_text(f"#!/bin/sh\necho \"checked $2\"\nexit {status}\n")
    script.chmod(0o755)
    return str(script)


def test_install_writes_a_validated_read_only_file(tmp_path: Path) -> None:
    target = tmp_path / "coi"
    sudoers.install("text\n", target, visudo=fake_visudo(tmp_path, 0))
    assert target.read_text() == "text\n"
    assert oct(target.stat().st_mode & 0o777) == "0o440"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".coi-")] == []


def test_install_leaves_nothing_behind_when_visudo_refuses(tmp_path: Path) -> None:
    target = tmp_path / "coi"
    with pytest.raises(SetupError) as err:
        sudoers.install("broken\n", target, visudo=fake_visudo(tmp_path, 1))
    assert not target.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["visudo"]
    assert "checked" in str(err.value)
