"""`coi config set`: change one key in a TOML file, keeping its comments and layout.

The only module that imports tomlkit (slow to import), so that loading config stays cheap.
"""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path
from typing import Any

import msgspec
import tomlkit
import tomlkit.exceptions
from tomlkit.container import Container
from tomlkit.items import InlineTable, Table

from coi.config.context import ConfigContext
from coi.config.merge import get_in
from coi.config.origin import display_path
from coi.config.schema import ALIASES, canonical, resolve
from coi.config.validate import check_document, parse_text, unknown_key
from coi.errors import ConfigError, PermissionDenied
from coi.state import atomic_write_bytes

NEW_FILE_MODE = 0o644


class Change(msgspec.Struct, frozen=True):
    """What `set_value` did. `old` is None when the file did not set the key."""

    path: Path
    key: str
    old: Any
    new: Any
    created: bool


def set_value(ctx: ConfigContext, key: str, text: str, *, project: bool = False) -> Change:
    """Set `key` to `text` (parsed to the key's type) in the user or project file.

    The whole resulting file is validated before anything is written.
    """
    path = ctx.project_config if project else ctx.user_config
    where = display_path(path, ctx.home)
    key = canonical(key)
    spec = resolve(key)
    if spec is None:
        raise unknown_key(key)
    value = parse_text(spec, text, "", key)
    source = _read_text(path, where)
    doc = tomlkit.document() if source is None else _parse(source, where)
    old = _current(doc, key)
    _assign(doc, key, value, where)
    check_document(doc.unwrap(), where)
    atomic_write(path, tomlkit.dumps(doc), owner=ctx.owner)
    return Change(path, key, old, value, created=source is None)


def _read_text(path: Path, where: str) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where}: cannot read: {exc}") from None


def _parse(source: str, where: str) -> tomlkit.TOMLDocument:
    try:
        return tomlkit.parse(source)
    except tomlkit.exceptions.ParseError as exc:
        detail = re.sub(r" at line \d+ col \d+$", "", str(exc))
        raise ConfigError(f"{where}: invalid TOML at line {exc.line}, column {exc.col}: "
                          f"{detail}") from None


def _current(doc: tomlkit.TOMLDocument, key: str) -> Any:
    try:
        return get_in(doc.unwrap(), key)
    except KeyError:
        return None


def _assign(doc: tomlkit.TOMLDocument, key: str, value: Any, where: str) -> None:
    *parents, last = key.split(".")
    table: Container | Table | InlineTable = doc
    for depth, name in enumerate(parents):
        if name not in table:
            # A table that only holds tables needs no header: [profiles.x], not [profiles].
            table[name] = tomlkit.table(is_super_table=depth < len(parents) - 1)
        child = table[name]
        if not isinstance(child, Table | InlineTable):
            dotted = ".".join(parents[: depth + 1])
            raise ConfigError(f"{where}: {dotted}: is not a table; fix the file first")
        table = child
    _drop_alias(table, key)
    table[last] = value


def _drop_alias(table: Container | Table | InlineTable, key: str) -> None:
    """Setting a key replaces its old spelling, which would otherwise conflict."""
    for alias, target in ALIASES.items():
        if key == target or key.endswith("." + target):
            old_name = alias.split(".")[-1]
            if old_name in table:
                del table[old_name]


def atomic_write(path: Path, text: str, owner: tuple[int, int] | None = None) -> None:
    """Write `text` to `path` via a temp file in the same directory, fsync and rename.

    A symlinked file (dotfiles) is written through to its target, not replaced.
    """
    target = Path(os.path.realpath(path))
    try:
        mode = target.stat().st_mode & 0o7777 if target.exists() else NEW_FILE_MODE
        atomic_write_bytes(target, text.encode("utf-8"), mode, owner)
    except OSError as exc:
        where = str(path)
        if exc.errno in (errno.EACCES, errno.EPERM):
            raise PermissionDenied(f"{where}: cannot write: permission denied") from None
        raise ConfigError(f"{where}: cannot write: {exc.strerror or exc}") from None
