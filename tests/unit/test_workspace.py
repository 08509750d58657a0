from __future__ import annotations

import hashlib

import pytest

from coi.errors import AlreadyExists, UsageError
from coi.workspace import (
    SlotChoice,
    choose_slot,
    container_name,
    container_prefix,
    parse_container_name,
    workspace_path,
)


def test_name_is_prefix_hash_slot_of_lexical_path() -> None:
    ws = workspace_path("proj/../proj2", cwd="/home/u")
    assert ws == "/home/u/proj2"
    digest = hashlib.sha256(b"/home/u/proj2").hexdigest()[:8]
    assert container_name(ws, 3) == f"coi-{digest}-3"
    assert container_name(ws, 1, prefix="x-") == f"x-{digest}-1"


def test_symlinks_are_not_resolved(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert workspace_path(tmp_path / "link") == str(tmp_path / "link")


def test_prefix_from_environment() -> None:
    assert container_prefix({}) == "coi-"
    assert container_prefix({"COI_CONTAINER_PREFIX": "t-"}) == "t-"


def test_parse_round_trip() -> None:
    name = container_name("/w", 10)
    parsed = parse_container_name(name)
    assert parsed is not None and parsed.slot == 10
    assert parse_container_name("coi-base") is None
    assert parse_container_name("coi-1234567g-1") is None


def test_auto_takes_lowest_slot_without_any_container() -> None:
    assert choose_slot({}) == SlotChoice(1)
    assert choose_slot({1: True, 2: False, 4: True}) == SlotChoice(3)
    with pytest.raises(AlreadyExists, match="all 10 slots"):
        choose_slot(dict.fromkeys(range(1, 11), False))


def test_requested_slot_moves_up_only_when_running() -> None:
    assert choose_slot({2: False}, requested=2) == SlotChoice(2)
    assert choose_slot({2: True, 3: True}, requested=2) == SlotChoice(4, moved_from=2)
    assert choose_slot({10: True}, requested=10) == SlotChoice(1, moved_from=10)
    with pytest.raises(UsageError):
        choose_slot({}, requested=11)
