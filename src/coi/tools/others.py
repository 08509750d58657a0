"""Aider and Codex: tools coi can start, with simpler state than Claude Code.

Aider keeps its chat history in the repository (`.aider.chat.history.md`), so there is
no home state to save: `--restore-chat-history` resumes from the workspace. Its keys come
from `~/.aider.conf.yml` or environment variables (`forward_env`).
Codex keeps conversations in `~/.codex/sessions/`, its login in `~/.codex/auth.json`;
`codex resume --last` continues the newest, `codex exec` is headless.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from coi.tools.base import ConfigFile, Tool, newest


@dataclass(frozen=True)
class Aider(Tool):
    def bypass_args(self, bypass: bool) -> list[str]:
        return ["--yes-always"] if bypass else []

    def resume_argv(self, binary: str, tool_session: str | None, bypass: bool) -> list[str]:
        return [binary, *self.bypass_args(bypass), "--restore-chat-history"]

    def headless_argv(self, binary: str, prompt: str, bypass: bool,
                      tool_session: str | None = None, resume: bool = False) -> list[str]:
        history = ["--restore-chat-history"] if resume else []
        return [binary, *self.bypass_args(bypass), *history, "--no-pretty", "--message", prompt]


@dataclass(frozen=True)
class Codex(Tool):
    def bypass_args(self, bypass: bool) -> list[str]:
        return ["--dangerously-bypass-approvals-and-sandbox"] if bypass else []

    def resume_argv(self, binary: str, tool_session: str | None, bypass: bool) -> list[str]:
        target = [tool_session] if tool_session else ["--last"]
        return [binary, "resume", *self.bypass_args(bypass), *target]

    def headless_argv(self, binary: str, prompt: str, bypass: bool,
                      tool_session: str | None = None, resume: bool = False) -> list[str]:
        if resume:
            target = [tool_session] if tool_session else ["--last"]
            return [binary, "exec", *self.bypass_args(bypass), "resume", *target, prompt]
        return [binary, "exec", *self.bypass_args(bypass), prompt]

    def find_tool_session(self, state: Path) -> str | None:
        # sessions/YYYY/MM/DD/rollout-<timestamp>-<uuid>.jsonl
        found = newest(sorted((state / "sessions").glob("*/*/*/rollout-*.jsonl")))
        if found is None:
            return None
        tail = found.stem.split("-")[-5:]
        return "-".join(tail) if len(tail) == 5 else None


AIDER = Aider(
    name="aider",
    display="Aider",
    binary="aider",
    state_dir=None,
    files=(ConfigFile(".aider.conf.yml", secret=True, login=True),),
    login_hint="~/.aider.conf.yml",
)

CODEX = Codex(
    name="codex",
    display="Codex",
    binary="codex",
    state_dir=".codex",
    files=(
        ConfigFile(".codex/auth.json", secret=True, login=True),
        ConfigFile(".codex/config.toml", mode=0o644),
        ConfigFile(".codex/AGENTS.md", mode=0o644),
    ),
    login_hint="~/.codex",
    # The OpenAI API, and the ChatGPT sign-in and its token refresh.
    api_domains=("api.openai.com", "auth.openai.com", "chatgpt.com"),
)
