"""`coi snapshot …` against real containers, with and without the workspace copy.

The workspace scenario plays an agent that deletes, edits and creates files in the
workspace and in the container, then rolls everything back, then undoes the rollback.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from coi.incus import instances
from coi.incus.client import Client
from coi.workspace import container_name
from tests.integration.test_container_cmd_support import (
    TEST_IMAGE,
    coi,
    container,
    force_delete,
    tree_state,
)

pytestmark = pytest.mark.timeout(300)


def make_workspace(ws: Path) -> None:
    (ws / "sub" / "deeper").mkdir(parents=True)
    (ws / "keep.txt").write_text("keep\n")
    (ws / "edit.txt").write_text("original\n")
    (ws / "delete-me.txt").write_text("bye\n")
    (ws / ".env").write_text("API_KEY=ignored-but-kept\n")
    (ws / ".gitignore").write_text(".env\n")
    (ws / "sub" / "deeper" / "data.bin").write_bytes(os.urandom(70_000))
    (ws / "sub" / "deeper" / "data.bin").chmod(0o640)
    (ws / "run.sh").write_text("#!/bin/sh\n")
    (ws / "run.sh").chmod(0o755)
    (ws / "link-in").symlink_to("keep.txt")
    (ws / "link-out").symlink_to("/etc/hostname")
    (ws / "dir-out").symlink_to("/etc")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / "home").mkdir()
    return tmp_path / "home"


@pytest.fixture
def session_box(incus: Client, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A running container with a workspace at /workspace, as a coi session has."""
    ws = tmp_path / "ws"
    ws.mkdir()
    make_workspace(ws)
    devices = {"workspace": {"type": "disk", "source": str(ws), "path": "/workspace",
                             "shift": "true"}}
    with container(incus, devices=devices) as name:
        yield name, ws


def run_in(name: str, script: str) -> None:
    result = coi("container", "exec", name, "--", "sh", "-c", script)
    assert result.returncode == 0, result.stderr


def test_workspace_snapshot_restore_and_undo(session_box: tuple[str, Path], home: Path) -> None:
    name, ws = session_box
    env = {"HOME": str(home)}
    run_in(name, "echo v1 > /root/state.txt")
    made = coi("snapshot", "create", "before", "--workspace", "-c", name, env=env)
    assert made.returncode == 0, made.stderr
    assert f"Created snapshot before of {name} with workspace {ws} (7 files" in made.stdout
    before = tree_state(ws)
    saved = home / ".coi" / "snapshots" / name / "before"
    assert tree_state(saved / "workspace") == before
    assert json.loads((saved / "metadata.json").read_text())["files"] == 7

    run_in(name, "cd /workspace && rm delete-me.txt .env && echo more >> edit.txt && "
                 "echo new > created.txt && mkdir newdir && chmod 600 run.sh && "
                 "rm -r sub/deeper && echo v2 > /root/state.txt && touch /root/agent-made")
    after = tree_state(ws)
    assert after != before

    unconfirmed = coi("snapshot", "restore", "before", "-c", name, "--stop", env=env)
    assert unconfirmed.returncode == 2 and "--yes" in unconfirmed.stderr
    running = coi("snapshot", "restore", "before", "-c", name, "--yes", env=env)
    assert running.returncode == 1 and "--stop" in running.stderr
    assert tree_state(ws) == after  # neither touched anything

    restored = coi("snapshot", "restore", "before", "-c", name, "--yes", "--stop", env=env)
    assert restored.returncode == 0, restored.stderr
    pre = re.search(r"The state before is snapshot (pre-restore-\d{8}-\d{6})", restored.stdout)
    assert pre is not None, restored.stdout
    assert tree_state(ws) == before
    assert not [p for p in os.listdir(ws) if p.startswith(".coi-restore-")]
    assert coi("container", "start", name).returncode == 0
    state = coi("container", "exec", name, "--", "sh", "-c",
                "cat /root/state.txt; ls /root/agent-made 2>&1")
    assert state.stdout.splitlines()[0] == "v1" and "No such file" in state.stdout

    listed = json.loads(coi("snapshot", "list", "-c", name, "--json", env=env).stdout)
    by_name = {s["name"]: s for s in listed["snapshots"]}
    assert listed["container"] == name
    assert by_name[pre.group(1)]["workspace"]["path"] == str(ws)
    assert by_name["before"]["container_snapshot"] is True

    undone = coi("snapshot", "restore", pre.group(1), "-c", name, "--yes", "--stop", env=env)
    assert undone.returncode == 0, undone.stderr
    assert tree_state(ws) == after
    assert coi("container", "start", name).returncode == 0
    state = coi("container", "exec", name, "--", "cat", "/root/state.txt", "/root/agent-made")
    assert state.stdout == "v2\n"

    deleted = coi("snapshot", "delete", "before", "-c", name, env=env)
    assert deleted.returncode == 0
    assert not saved.exists()
    gone = coi("snapshot", "info", "before", "-c", name, env=env)
    assert gone.returncode == 5 and "no snapshot 'before'" in gone.stderr


def test_container_only_snapshots_list_info_delete(session_box: tuple[str, Path],
                                                  home: Path) -> None:
    name, _ = session_box
    env = {"HOME": str(home)}
    first = coi("snapshot", "create", "-c", name, "--json", env=env)
    view = json.loads(first.stdout)
    assert re.fullmatch(r"snap-\d{8}-\d{6}", view["name"])
    assert set(view) == {"name", "created_at", "stateful", "container_snapshot", "workspace"}
    assert view["workspace"] is None
    assert coi("snapshot", "create", "two", "-c", name, env=env).returncode == 0
    dup = coi("snapshot", "create", "two", "-c", name, env=env)
    assert dup.returncode == 6 and "already" in dup.stderr
    text = coi("snapshot", "list", "-c", name, env=env).stdout
    assert view["name"] in text and "two" in text
    info = json.loads(coi("snapshot", "info", "two", "-c", name, "--json", env=env).stdout)
    assert (info["container"], info["name"], info["workspace"]) == (name, "two", None)
    bad = coi("snapshot", "create", "no/slash", "-c", name, env=env)
    assert bad.returncode == 2
    assert coi("snapshot", "delete", "-c", name, env=env).returncode == 2
    unconfirmed = coi("snapshot", "delete", "--all", "-c", name, env=env)
    assert unconfirmed.returncode == 2
    everything = coi("snapshot", "delete", "--all", "--yes", "-c", name, env=env)
    assert everything.stdout == f"Deleted 2 snapshot(s) of {name}\n"
    after = json.loads(coi("snapshot", "list", "-c", name, "--json", env=env).stdout)
    assert after["snapshots"] == []


def test_workspace_flag_needs_a_workspace_mount(incus: Client, home: Path) -> None:
    with container(incus, start=False) as name:
        result = coi("snapshot", "create", "--workspace", "-c", name,
                     env={"HOME": str(home)})
    assert result.returncode == 1 and "no workspace mounted" in result.stderr


def test_the_container_is_found_from_the_workspace(incus: Client, tmp_path: Path,
                                                    home: Path) -> None:
    ws = tmp_path / "project"
    ws.mkdir()
    prefix = f"coi-lt{uuid.uuid4().hex[:6]}-"
    env = {"HOME": str(home), "COI_CONTAINER_PREFIX": prefix, "COI_CONTAINER": ""}
    none = coi("snapshot", "list", "-w", str(ws), env=env)
    assert none.returncode == 5 and "coi shell" in none.stderr
    one, two = container_name(str(ws), 1, prefix), container_name(str(ws), 2, prefix)
    try:
        instances.create(incus, one, image=TEST_IMAGE)
        found = coi("snapshot", "list", "--json", cwd=ws, env=env)
        assert json.loads(found.stdout)["container"] == one
        by_env = coi("snapshot", "list", "--json", env={**env, "COI_CONTAINER": one})
        assert json.loads(by_env.stdout)["container"] == one
        instances.create(incus, two, image=TEST_IMAGE)
        both = coi("snapshot", "list", "-w", str(ws), env=env)
        assert both.returncode == 2
        assert one in both.stderr and two in both.stderr and "-c NAME" in both.stderr
    finally:
        force_delete(incus, one)
        force_delete(incus, two)
