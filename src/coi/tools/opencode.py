"""opencode (`opencode`).

Conversations live in `~/.local/share/opencode/` (storage/ and the project database),
with the login in `auth.json` beside them; configuration is `~/.config/opencode/`.
`--continue` resumes the newest session of the directory, `run MESSAGE` is headless.
Its permissions default to allow; bypass mode states that explicitly in the config.
"""

from __future__ import annotations

from dataclasses import dataclass

from coi.tools.base import ConfigFile, Tool

SANDBOX_CONFIG = {"permission": {"edit": "allow", "bash": "allow", "webfetch": "allow"}}


@dataclass(frozen=True)
class OpenCode(Tool):
    def start_argv(self, binary: str, session_id: str, bypass: bool) -> list[str]:
        return [binary, "/workspace"]

    def resume_argv(self, binary: str, tool_session: str | None, bypass: bool) -> list[str]:
        target = ["--session", tool_session] if tool_session else ["--continue"]
        return [binary, *target, "/workspace"]

    def headless_argv(self, binary: str, prompt: str, bypass: bool,
                      tool_session: str | None = None, resume: bool = False) -> list[str]:
        target: list[str] = []
        if resume:
            target = ["--session", tool_session] if tool_session else ["--continue"]
        return [binary, "run", *target, prompt]


OPENCODE = OpenCode(
    name="opencode",
    display="opencode",
    binary="opencode",
    state_dir=".local/share/opencode",
    files=(
        ConfigFile(".local/share/opencode/auth.json", secret=True, login=True),
        ConfigFile(".config/opencode/opencode.json", sandbox=SANDBOX_CONFIG, mode=0o644),
        ConfigFile(".config/opencode/tui.json", mode=0o644),
        ConfigFile(".config/opencode/AGENTS.md", mode=0o644),
    ),
    login_hint="~/.local/share/opencode",
    # Its own service (login, the opencode provider, updates) and the model catalogue it
    # fetches at start; the provider's API (e.g. api.anthropic.com) is the user's choice.
    api_domains=("opencode.ai", "models.dev"),
)
