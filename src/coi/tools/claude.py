"""Claude Code (`claude`), and the `dummy` stand-in that copies its flags and state.

Flags used (checked against the real binary by tests/integration/test_tools_contract.py):
`--verbose`, `--permission-mode bypassPermissions`, `--session-id UUID`, `--resume ID`,
`--continue`, `-p/--print`. State: `~/.claude/`; a conversation is
`~/.claude/projects/-workspace/<id>.jsonl` (the key is the cwd with non-alphanumerics
as `-`). Credentials: `~/.claude/.credentials.json`; account and onboarding state in
`~/.claude.json`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from coi.tools.base import ConfigFile, Tool, newest

# Settings that make Claude Code act without asking, as the container is the sandbox.
SANDBOX_SETTINGS = {
    "allowDangerouslySkipPermissions": True,
    "bypassPermissionsModeAccepted": True,
    "permissions": {"defaultMode": "bypassPermissions"},
}
PROJECT_KEY = "-workspace"  # /workspace, as Claude Code names its project directory


@dataclass(frozen=True)
class Claude(Tool):
    def bypass_args(self, bypass: bool) -> list[str]:
        return ["--permission-mode", "bypassPermissions"] if bypass else []

    def start_argv(self, binary: str, session_id: str, bypass: bool) -> list[str]:
        return [binary, "--verbose", *self.bypass_args(bypass), "--session-id", session_id]

    def resume_argv(self, binary: str, tool_session: str | None, bypass: bool) -> list[str]:
        target = ["--resume", tool_session] if tool_session else ["--continue"]
        return [binary, "--verbose", *self.bypass_args(bypass), *target]

    def headless_argv(self, binary: str, prompt: str, bypass: bool,
                      tool_session: str | None = None, resume: bool = False) -> list[str]:
        target: list[str] = []
        if resume:
            target = ["--resume", tool_session] if tool_session else ["--continue"]
        return [binary, *self.bypass_args(bypass), *target, "-p", prompt]

    def find_tool_session(self, state: Path) -> str | None:
        found = newest(sorted((state / "projects" / PROJECT_KEY).glob("*.jsonl")))
        return found.stem if found else None


CLAUDE = Claude(
    name="claude",
    display="Claude Code",
    binary="claude",
    state_dir=".claude",
    files=(
        ConfigFile(".claude/.credentials.json", secret=True, login=True),
        ConfigFile(".claude/settings.json", sandbox=SANDBOX_SETTINGS, mode=0o644),
        ConfigFile(".claude/CLAUDE.md", mode=0o644),
        ConfigFile(".claude.json", secret=True, sandbox=SANDBOX_SETTINGS),
    ),
    login_hint="~/.claude",
    # The Messages API; the OAuth login and its token refresh (console is the older name).
    api_domains=("api.anthropic.com", "platform.claude.com", "console.anthropic.com"),
)

# The test tool: Claude's flags and state layout, no account (docs/dummy-tool.md).
DUMMY = Claude(name="dummy", display="dummy", binary="dummy", state_dir=".claude")
