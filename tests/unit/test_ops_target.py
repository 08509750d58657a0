"""Which container a low-level command acts on: -c, $COI_CONTAINER, the workspace's."""

from __future__ import annotations

import pytest

from coi.errors import NotFound, UsageError
from coi.incus.instances import Instance
from coi.ops.target import pick, workspace_containers, workspace_source
from coi.workspace import container_name

WS = "/home/me/project"
OTHER = "/home/me/other"


def names(*pairs: tuple[str, int], prefix: str = "coi-") -> list[str]:
    return [container_name(ws, slot, prefix) for ws, slot in pairs]


def test_workspace_containers_match_the_hash_and_sort_by_slot() -> None:
    mine = names((WS, 10), (WS, 2))
    found = workspace_containers([*mine, *names((OTHER, 1)), "coi-notasession", "web"], WS,
                                 "coi-")
    assert found == [mine[1], mine[0]]


def test_workspace_containers_honour_the_prefix() -> None:
    custom = names((WS, 1), prefix="team-")
    assert workspace_containers(custom, WS, "coi-") == []
    assert workspace_containers(custom, WS, "team-") == custom


def test_explicit_name_wins_then_the_environment() -> None:
    env = {"COI_CONTAINER": "from-env"}
    assert pick("explicit", env, WS, ["a", "b"]) == "explicit"
    assert pick(None, env, WS, ["a", "b"]) == "from-env"
    assert pick(None, {"COI_CONTAINER": ""}, WS, ["only"]) == "only"


def test_no_container_is_not_found_with_a_hint() -> None:
    with pytest.raises(NotFound) as caught:
        pick(None, {}, WS, [])
    assert WS in caught.value.message
    assert "coi shell" in str(caught.value) and "-c NAME" in str(caught.value)


def test_several_containers_are_listed() -> None:
    with pytest.raises(UsageError) as caught:
        pick(None, {}, WS, ["coi-aaaaaaaa-1", "coi-aaaaaaaa-2"])
    assert "coi-aaaaaaaa-1, coi-aaaaaaaa-2" in caught.value.message
    assert caught.value.exit_code == 2


def instance(devices: dict[str, dict[str, str]]) -> Instance:
    return Instance.from_api({"name": "x", "status": "Running", "expanded_devices": devices})


def test_workspace_source_is_the_disk_at_slash_workspace() -> None:
    assert workspace_source(instance({
        "root": {"type": "disk", "path": "/", "pool": "default"},
        "ws": {"type": "disk", "path": "/workspace/", "source": "/home/me/p"},
    })) == "/home/me/p"
    assert workspace_source(instance({"x": {"type": "disk", "path": "/mnt", "source": "/a"}})) \
        is None
