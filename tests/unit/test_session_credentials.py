"""Credentials and settings copied into a session, and a login kept for next time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from coi.session.credentials import Injection, gather, merge_settings, merged_json
from coi.tools import get_tool
from coi.tools.claude import SANDBOX_SETTINGS


def test_merge_keeps_user_settings_and_adds_sandbox_keys() -> None:
    user = {"theme": "dark", "permissions": {"allow": ["Bash(ls)"], "defaultMode": "default"},
            "env": {"X": "1"}}
    merged = merge_settings(user, SANDBOX_SETTINGS)
    assert merged["theme"] == "dark" and merged["env"] == {"X": "1"}
    assert merged["permissions"] == {"allow": ["Bash(ls)"], "defaultMode": "bypassPermissions"}
    assert merged["bypassPermissionsModeAccepted"] is True
    assert user["permissions"]["defaultMode"] == "default", "the input is not changed"


def test_merged_json_for_missing_empty_and_broken_files() -> None:
    assert json.loads(merged_json(None, {"a": 1}) or b"") == {"a": 1}
    assert json.loads(merged_json(b"  \n", {"a": 1}) or b"") == {"a": 1}
    assert merged_json(b"{not json", {"a": 1}) is None
    assert merged_json(b"[1, 2]", {"a": 1}) is None


def write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def homes(tmp_path: Path) -> tuple[Path, Path]:
    host, kept = tmp_path / "home", tmp_path / "kept"
    host.mkdir()
    return host, kept


def files_of(injection: Injection) -> dict[str, bytes]:
    return {spec.path: data for spec, data in injection.files}


def test_host_credentials_and_merged_settings(homes: tuple[Path, Path]) -> None:
    host, kept = homes
    write(host, ".claude/.credentials.json", '{"token": "t"}')
    write(host, ".claude/settings.json", '{"model": "opus"}')
    write(host, ".ssh/id_rsa", "never")
    write(host, ".claude/projects/x.jsonl", "not a config file")
    injection = gather(get_tool("claude"), host, kept, bypass=True)
    found = files_of(injection)
    assert injection.logged_in and not injection.from_kept
    assert set(found) == {".claude/.credentials.json", ".claude/settings.json", ".claude.json"}
    settings = json.loads(found[".claude/settings.json"])
    assert settings["model"] == "opus"
    assert settings["permissions"]["defaultMode"] == "bypassPermissions"
    assert json.loads(found[".claude.json"]) == SANDBOX_SETTINGS


def test_interactive_mode_copies_settings_unchanged(homes: tuple[Path, Path]) -> None:
    host, kept = homes
    write(host, ".claude/settings.json", '{"model": "opus"}')
    found = files_of(gather(get_tool("claude"), host, kept, bypass=False))
    assert found == {".claude/settings.json": b'{"model": "opus"}'}


def test_no_login_on_the_host_uses_the_kept_one(homes: tuple[Path, Path]) -> None:
    host, kept = homes
    nothing = gather(get_tool("claude"), host, kept, bypass=True)
    assert not nothing.logged_in
    write(kept, ".claude/.credentials.json", '{"token": "kept"}')
    injection = gather(get_tool("claude"), host, kept, bypass=True)
    assert injection.logged_in and injection.from_kept
    assert files_of(injection)[".claude/.credentials.json"] == b'{"token": "kept"}'


def test_a_host_login_wins_over_the_kept_one(homes: tuple[Path, Path]) -> None:
    host, kept = homes
    write(kept, ".claude/.credentials.json", '{"token": "kept"}')
    write(host, ".claude/.credentials.json", '{"token": "host"}')
    injection = gather(get_tool("claude"), host, kept, bypass=True)
    assert not injection.from_kept
    assert files_of(injection)[".claude/.credentials.json"] == b'{"token": "host"}'


def test_resume_merges_into_the_restored_settings(homes: tuple[Path, Path],
                                                  tmp_path: Path) -> None:
    host, kept = homes
    restored = tmp_path / "state"
    write(restored, "settings.json", '{"chosen": "in the session"}')
    found = files_of(gather(get_tool("claude"), host, kept, bypass=True, restored=restored))
    assert json.loads(found[".claude/settings.json"])["chosen"] == "in the session"


def test_a_broken_settings_file_is_copied_as_it_is(homes: tuple[Path, Path]) -> None:
    host, kept = homes
    write(host, ".claude/settings.json", "{oops")
    injection = gather(get_tool("claude"), host, kept, bypass=True)
    assert files_of(injection)[".claude/settings.json"] == b"{oops"
    assert injection.unmerged == [".claude/settings.json"]
