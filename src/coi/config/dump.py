"""The effective config as TOML text, optionally with each value's origin as a comment.

A small writer of our own: the data is plain (tables, strings, numbers, bools, lists of
strings), and importing tomlkit would cost every `coi config show`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from coi.config.merge import join

ALIGN_LIMIT = 48


def dump_toml(data: Mapping[str, Any], origins: Mapping[str, str] | None = None,
              prefix: str = "") -> str:
    """TOML for `data` (rooted at dotted `prefix`); `origins` maps dotted keys to labels."""
    lines: list[str] = []
    _emit_table(data, prefix, origins, lines)
    return "\n".join(lines).strip("\n")


def _emit_table(table: Mapping[str, Any], prefix: str, origins: Mapping[str, str] | None,
                lines: list[str]) -> None:
    values = [(k, v) for k, v in table.items() if not _is_subtable(v, prefix)]
    subtables = [(k, v) for k, v in table.items() if _is_subtable(v, prefix)]
    if prefix and (values or not subtables):
        lines += ["", f"[{prefix}]"]
    rendered = [(f"{name} = {format_value(value)}", join(prefix, name)) for name, value in values]
    # Align the origin comments, but let an overlong line (a long list) stick out alone.
    width = max((len(text) for text, _ in rendered if len(text) <= ALIGN_LIMIT), default=0)
    for text, key in rendered:
        label = origins.get(key) if origins is not None else None
        lines.append(f"{text.ljust(width)}  # {label}" if label else text)
    for name, sub in subtables:
        _emit_table(sub, join(prefix, name), origins, lines)


def _is_subtable(value: Any, prefix: str) -> bool:
    # Inside a section an empty table prints inline (`environment = {}`) to stay with its
    # section; at the top it gets a header, since top-level keys would look stray.
    return isinstance(value, Mapping) and (bool(value) or not prefix)


def format_value(value: Any) -> str:
    """One value in TOML syntax."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # JSON string escapes are valid TOML
    if isinstance(value, list | tuple):
        return "[" + ", ".join(format_value(item) for item in value) + "]"
    if isinstance(value, Mapping):
        items = ", ".join(f"{k} = {format_value(v)}" for k, v in value.items())
        return "{" + (f" {items} " if items else "") + "}"
    return repr(value) if isinstance(value, float) else str(value)
