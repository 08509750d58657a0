"""One small adapter per AI tool (claude, opencode, aider, codex, dummy).

Each adapter says which binary to run, where the tool keeps its state, which credentials
to inject and how to resume a session. `get_tool` is the one way to look one up.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from coi.tools.base import Tool

TOOL_NAMES = ("claude", "opencode", "aider", "codex", "dummy")


def get_tool(name: str) -> Tool:
    """The adapter for `name`; UsageError for a tool coi does not know."""
    from coi.errors import UsageError
    from coi.tools.claude import CLAUDE, DUMMY
    from coi.tools.opencode import OPENCODE
    from coi.tools.others import AIDER, CODEX

    tools = {t.name: t for t in (CLAUDE, OPENCODE, AIDER, CODEX, DUMMY)}
    try:
        return tools[name]
    except KeyError:
        raise UsageError(f"unknown tool {name!r}",
                         hint=f"choose one of {', '.join(TOOL_NAMES)}") from None
