"""Checking settings against the schema, with one-line errors that name file and key.

Every layer (file, environment, profile, flags) passes through here before merging, so an
error can name the file or variable it came from: "<where>: <dotted.key>: expected ...".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from coi.config import checks
from coi.config.merge import join
from coi.config.schema import (
    ALIASES,
    CONTAINER_KINDS,
    PROFILE_SHORTHANDS,
    KeySpec,
    resolve,
    schema,
    suggest,
)
from coi.errors import ConfigError

EXPECTED: dict[str, str] = {
    "bool": "a boolean (true or false)",
    "int": "an integer",
    "float": "a number",
    "str": "a string",
    "list": "a list of strings",
    "map": "a table",
    "profiles": "a table of profiles",
}

_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})


def check_document(data: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Validate one layer's settings; return them with old key names renamed."""
    renamed = _rename_aliases(data, where)
    check_table(renamed, "", where)
    return renamed


def check_table(table: Mapping[str, Any], prefix: str, where: str) -> None:
    for name, value in table.items():
        key = join(prefix, name)
        spec = resolve(key)
        if spec is None:
            raise unknown_key(key, where)
        check_value(spec, value, where, key)


def check_value(spec: KeySpec, value: Any, where: str, key: str) -> None:
    if spec.kind not in CONTAINER_KINDS:
        check_leaf(spec, value, where, key)
        return
    if not isinstance(value, Mapping):
        expected = EXPECTED.get(spec.kind, f"a table (a [{key}] section)")
        raise _mismatch(where, key, expected, value)
    if spec.kind == "table":
        check_table(value, key, where)
    elif spec.kind == "profiles":
        for name, overlay in value.items():
            _check_profile(name, overlay, where)
    else:
        _check_map(spec, value, where, key)


def check_leaf(spec: KeySpec, value: Any, where: str, key: str) -> None:
    kind = spec.kind
    if not _type_ok(kind, value):
        expected = _one_of(spec) if kind == "enum" else EXPECTED[kind]
        raise _mismatch(where, key, expected, value)
    if kind == "enum" and value not in spec.choices:
        raise _mismatch(where, key, _one_of(spec), value)
    if kind == "list":
        _check_items(spec, value, where, key)
    elif spec.check is not None and not spec.check.test(value):
        raise _mismatch(where, key, spec.check.expected, value)


def _type_ok(kind: str, value: Any) -> bool:
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        return (isinstance(value, int | float) and not isinstance(value, bool)
                and math.isfinite(value))
    if kind == "list":
        return isinstance(value, list | tuple)
    return isinstance(value, str)


def _check_items(spec: KeySpec, items: list[Any] | tuple[Any, ...], where: str,
                 key: str) -> None:
    for item in items:
        if not isinstance(item, str):
            raise ConfigError(f"{_at(where)}{key}: expected a list of strings, "
                              f"got {describe(item)} in the list")
        if spec.check is not None and not spec.check.test(item):
            raise ConfigError(f"{_at(where)}{key}: expected each item to be "
                              f"{spec.check.expected}, got {describe(item)}")


def _check_map(spec: KeySpec, table: Mapping[str, Any], where: str, key: str) -> None:
    for name, entry in table.items():
        if spec.check is not None and not spec.check.test(name):
            raise _mismatch(where, f"{key}.{name}", f"the name to be {spec.check.expected}",
                            name)
        if not isinstance(entry, str):
            raise _mismatch(where, f"{key}.{name}", "a string", entry)


def _check_profile(name: str, overlay: Any, where: str) -> None:
    key = f"profiles.{name}"
    if not checks.PROFILE_NAME.test(name):
        raise _mismatch(where, key, f"the name to be {checks.PROFILE_NAME.expected}", name)
    if not isinstance(overlay, Mapping):
        raise _mismatch(where, key, f"a table (a [{key}] section)", overlay)
    for short, target in PROFILE_SHORTHANDS.items():
        section, field = target.split(".")
        table = overlay.get(section)
        if short in overlay and isinstance(table, Mapping) and field in table:
            raise ConfigError(f"{_at(where)}{key}.{short}: also set as {key}.{target}; "
                              "keep only one")
    check_table(overlay, key, where)


def _rename_aliases(data: Mapping[str, Any], where: str, prefix: str = "") -> dict[str, Any]:
    out = dict(data)
    for old, new in ALIASES.items():
        section, old_name = old.split(".")
        new_name = new.split(".")[1]
        table = out.get(section)
        if not isinstance(table, Mapping) or old_name not in table:
            continue
        if new_name in table:
            raise ConfigError(f"{_at(where)}{join(prefix, old)}: also set as "
                              f"{join(prefix, new)} (its new name); keep only {new_name}")
        out[section] = {(new_name if k == old_name else k): v for k, v in table.items()}
    profiles = out.get("profiles")
    if not prefix and isinstance(profiles, Mapping):
        out["profiles"] = {
            name: _rename_aliases(p, where, f"profiles.{name}") if isinstance(p, Mapping) else p
            for name, p in profiles.items()
        }
    return out


def parse_text(spec: KeySpec, text: str, where: str, key: str) -> Any:
    """Turn command-line or environment text into a value of the key's type, checked."""
    if spec.kind in CONTAINER_KINDS:
        raise ConfigError(f"{_at(where)}{key}: is a table; set one of its keys, "
                          f"e.g. {_example_child(spec, key)}")
    value: Any = text
    if spec.kind == "bool":
        value = _parse_bool(text, where, key)
    elif spec.kind in ("int", "float"):
        value = _parse_number(spec, text, where, key)
    elif spec.kind == "list":
        value = _parse_list(text, where, key)
    check_leaf(spec, value, where, key)
    return value


def _parse_bool(text: str, where: str, key: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE or lowered in _FALSE:
        return lowered in _TRUE
    raise _mismatch(where, key, "a boolean (true/false, yes/no, on/off, 1/0)", text)


def _parse_number(spec: KeySpec, text: str, where: str, key: str) -> int | float:
    try:
        return int(text.strip()) if spec.kind == "int" else float(text.strip())
    except ValueError:
        raise _mismatch(where, key, EXPECTED[spec.kind], text) from None


def _parse_list(text: str, where: str, key: str) -> list[Any]:
    """`a.com,b.org` (spaces ignored), or a JSON array; "" is the empty list."""
    if text.strip().startswith("["):
        import json

        try:
            parsed = json.loads(text)
        except ValueError:
            raise _mismatch(where, key, "a JSON array or comma-separated items", text) from None
        return list(parsed) if isinstance(parsed, list) else [parsed]
    return [item.strip() for item in text.split(",") if item.strip()]


def _example_child(spec: KeySpec, key: str) -> str:
    if spec.kind == "map":
        return f"{key}.NAME"
    if spec.kind == "profiles":
        return "profiles.NAME.image"
    return next((k for k in schema() if k.startswith(key + ".")), f"{key}.KEY")


def unknown_key(key: str, where: str = "") -> ConfigError:
    close = suggest(key)
    return ConfigError(f"{_at(where)}{key}: unknown key",
                       hint=f"did you mean {close}?" if close else None)


def describe(value: Any) -> str:
    """A value as the user would write it in TOML, for "got ..." in messages."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, Mapping):
        return "a table"
    return f"a {type(value).__name__}"


def _one_of(spec: KeySpec) -> str:
    return "one of " + ", ".join(spec.choices)


def _mismatch(where: str, key: str, expected: str, value: Any) -> ConfigError:
    return ConfigError(f"{_at(where)}{key}: expected {expected}, got {describe(value)}")


def _at(where: str) -> str:
    return f"{where}: " if where else ""
