"""Credentials in real sessions (the claude adapter, with `dummy` as its binary): settings
merged, a missing login said once, a login made inside kept apart from sessions and
copied in next time. Also: ten shells of one workspace at once all start."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from coi.incus import files
from coi.incus.client import Client
from tests.integration.session_support import Sandbox, sandbox

pytestmark = pytest.mark.slow
KEPT = ".coi/credentials/claude/.claude/.credentials.json"


@pytest.fixture
def box(incus: Client, test_image: str, tmp_path: Path) -> Iterator[Sandbox]:
    with sandbox(incus, test_image, tmp_path, owner=1000) as made:
        yield made


def claude_session(box: Sandbox) -> tuple[str, bytes]:
    result = box.coi("shell", "--tool", "claude", "--background", COI_USE_DUMMY="1")
    assert result.returncode == 0, result.stderr
    name = result.stdout.decode().rsplit("coi attach ", 1)[1].strip()
    box.wait_screen(name, "Tip:")
    return name, result.stderr


def read(box: Sandbox, name: str, path: str) -> bytes:
    return files.read_file(box.client, name, path)


def test_settings_are_merged_and_a_login_made_inside_is_kept(box: Sandbox) -> None:
    (box.home / ".claude").mkdir()
    (box.home / ".claude" / "settings.json").write_text('{"model": "mine"}')
    name, stderr = claude_session(box)
    assert b"no Claude Code credentials in ~/.claude: log in inside the session" in stderr
    settings = json.loads(read(box, name, "/home/code/.claude/settings.json"))
    assert settings["model"] == "mine"
    assert settings["permissions"]["defaultMode"] == "bypassPermissions"
    assert json.loads(read(box, name, "/home/code/.claude.json"))[
        "bypassPermissionsModeAccepted"] is True

    box.sh(name, "echo '{\"token\": \"made-inside\"}' > ~/.claude/.credentials.json")
    box.end_tmux(name)
    box.wait_closed(name)
    kept = box.home / KEPT
    assert json.loads(kept.read_text()) == {"token": "made-inside"}
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert stat.S_IMODE((box.home / ".coi" / "credentials").stat().st_mode) == 0o700
    saved = box.store.state_dir("claude", box.only_session("claude").session_id)
    assert (saved / "settings.json").exists()
    assert not (saved / ".credentials.json").exists(), "never stored with a session"

    again, stderr = claude_session(box)
    assert b"no Claude Code credentials" not in stderr
    assert json.loads(read(box, again, "/home/code/.claude/.credentials.json")) == {
        "token": "made-inside"}


def test_ten_shells_of_one_workspace_start_at_once(box: Sandbox) -> None:
    def start(_: int) -> bytes:
        result = box.coi("shell", "--tool", "dummy", "--background", timeout=240)
        assert result.returncode == 0, result.stderr
        return result.stdout

    with ThreadPoolExecutor(10) as pool:
        outputs = list(pool.map(start, range(10)))
    names = {out.decode().rsplit("coi attach ", 1)[1].strip() for out in outputs}
    assert names == {box.name(slot) for slot in range(1, 11)}
    assert len({r.session_id for r in box.sessions()}) == 10
