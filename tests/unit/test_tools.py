"""Tool adapters: the commands coi starts, resumes and runs headless, and their files."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from coi.errors import UsageError
from coi.tools import TOOL_NAMES, get_tool
from coi.tools.claude import SANDBOX_SETTINGS


def test_every_named_tool_has_an_adapter() -> None:
    assert sorted(get_tool(n).name for n in TOOL_NAMES) == sorted(TOOL_NAMES)
    with pytest.raises(UsageError, match="unknown tool 'vim'"):
        get_tool("vim")


def test_claude_commands() -> None:
    claude = get_tool("claude")
    assert claude.start_argv("claude", "S1", bypass=True) == [
        "claude", "--verbose", "--permission-mode", "bypassPermissions", "--session-id", "S1"]
    assert claude.start_argv("claude", "S1", bypass=False) == [
        "claude", "--verbose", "--session-id", "S1"]
    assert claude.resume_argv("claude", "T9", bypass=True)[-2:] == ["--resume", "T9"]
    assert claude.resume_argv("claude", None, bypass=True)[-1] == "--continue"
    assert claude.headless_argv("claude", "fix it", bypass=True)[-2:] == ["-p", "fix it"]
    assert claude.headless_argv("claude", "more", bypass=False, tool_session="T9",
                                resume=True) == ["claude", "--resume", "T9", "-p", "more"]


def test_dummy_speaks_claude_with_its_own_binary_and_no_account() -> None:
    dummy = get_tool("dummy")
    assert dummy.start_argv("dummy", "S", bypass=True)[0] == "dummy"
    assert dummy.state_dir == ".claude"
    assert dummy.files == ()


def test_claude_files_secrets_and_sandbox_settings() -> None:
    claude = get_tool("claude")
    by_path = {f.path: f for f in claude.files}
    creds = by_path[".claude/.credentials.json"]
    assert creds.secret and creds.login and creds.mode == 0o600
    assert by_path[".claude/settings.json"].sandbox == SANDBOX_SETTINGS
    assert by_path[".claude.json"].secret
    assert claude.secrets_in_state() == [".credentials.json"]


def test_other_tools() -> None:
    opencode = get_tool("opencode")
    assert opencode.state_dir == ".local/share/opencode"
    assert opencode.secrets_in_state() == ["auth.json"]
    assert opencode.resume_argv("opencode", None, bypass=True) == [
        "opencode", "--continue", "/workspace"]
    assert opencode.headless_argv("opencode", "hi", bypass=True) == ["opencode", "run", "hi"]
    aider = get_tool("aider")
    assert aider.state_dir is None and aider.secrets_in_state() == []
    assert "--restore-chat-history" in aider.resume_argv("aider", None, bypass=True)
    codex = get_tool("codex")
    assert codex.headless_argv("codex", "go", bypass=True) == [
        "codex", "exec", "--dangerously-bypass-approvals-and-sandbox", "go"]
    assert codex.resume_argv("codex", None, bypass=False) == ["codex", "resume", "--last"]


def test_claude_finds_the_newest_conversation(tmp_path: Path) -> None:
    project = tmp_path / "projects" / "-workspace"
    project.mkdir(parents=True)
    old, new = project / "old-id.jsonl", project / "new-id.jsonl"
    old.write_text("{}")
    new.write_text("{}")
    past = time.time() - 100
    os.utime(old, (past, past))
    assert get_tool("claude").find_tool_session(tmp_path) == "new-id"
    assert get_tool("claude").find_tool_session(tmp_path / "nothing") is None


def test_codex_reads_the_uuid_from_its_rollout_file(tmp_path: Path) -> None:
    day = tmp_path / "sessions" / "2025" / "01" / "02"
    day.mkdir(parents=True)
    uuid = "0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
    (day / f"rollout-2025-01-02T03-04-05-{uuid}.jsonl").write_text("{}")
    assert get_tool("codex").find_tool_session(tmp_path) == uuid
