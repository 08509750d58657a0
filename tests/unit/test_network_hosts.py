"""The allowlist block coi keeps in the container's /etc/hosts."""

from __future__ import annotations

from coi.network.hosts import BEGIN, END, merge

ORIGINAL = "127.0.0.1 localhost\n::1 localhost ip6-localhost\n10.77.0.2 mybox\n"
NAMES = {"b.example": ("203.0.113.2",), "a.example": ("203.0.113.1", "2001:db8::1")}


def test_block_is_appended_and_the_rest_kept() -> None:
    text = merge(ORIGINAL, NAMES)
    assert text.startswith(ORIGINAL)
    assert text[len(ORIGINAL):] == (f"{BEGIN}\n203.0.113.1 a.example\n2001:db8::1 a.example\n"
                                    f"203.0.113.2 b.example\n{END}\n")


def test_merge_replaces_its_own_block_and_is_idempotent() -> None:
    once = merge(ORIGINAL, NAMES)
    assert merge(once, NAMES) == once
    changed = merge(once + "192.0.2.9 added-later\n", {"c.example": ("203.0.113.3",)})
    assert "a.example" not in changed and "203.0.113.3 c.example" in changed
    assert "192.0.2.9 added-later" in changed
    assert changed.count(BEGIN) == 1 and changed.count(END) == 1


def test_empty_file_and_no_names() -> None:
    assert merge("", {}) == f"{BEGIN}\n{END}\n"
    assert merge("127.0.0.1 localhost", {}) == f"127.0.0.1 localhost\n{BEGIN}\n{END}\n"
