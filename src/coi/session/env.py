"""Parsing `--env` and choosing a TERM the container knows.

The environment itself is built in one place, coi.security.credentials.container_env:
nothing from the host unless asked for.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from coi.errors import UsageError

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
FALLBACK_TERM = "xterm-256color"
# Terminal types whose terminfo every coi image has (Debian's ncurses-base).
KNOWN_TERMS = frozenset({
    "xterm", "xterm-256color", "xterm-color", "screen", "screen-256color", "tmux",
    "tmux-256color", "linux", "vt100", "vt102", "vt220", "ansi", "dumb", "rxvt",
    "rxvt-unicode", "rxvt-unicode-256color", "putty", "putty-256color", "cygwin",
})


def sanitize_term(term: str | None) -> str:
    """A TERM the container knows: terminals with their own terminfo (kitty, alacritty,
    wezterm, ...) would otherwise leave the tool's interface garbled."""
    if term in KNOWN_TERMS:
        return term
    return FALLBACK_TERM


def parse_env_pairs(pairs: Iterable[str], host: Mapping[str, str]) -> dict[str, str]:
    """`--env K=V` values; a bare `--env K` copies the host's K (skipped when unset)."""
    result: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not ENV_NAME.fullmatch(name):
            raise UsageError(f"invalid --env {pair!r}", hint="use --env NAME=VALUE")
        if sep:
            result[name] = value
        elif name in host:
            result[name] = host[name]
    return result
