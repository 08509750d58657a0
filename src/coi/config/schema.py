"""The config's keys, read once from the typed model: kind, default, choices, checks.

Validation, `coi config get/set` and the docs test all look keys up here, so the model in
model.py stays the single description of what is valid.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any, Literal, get_args, get_origin

import msgspec

from coi.config.checks import Check
from coi.config.merge import join
from coi.config.model import Config

Kind = Literal["bool", "int", "float", "str", "enum", "list", "map", "table", "profiles"]
CONTAINER_KINDS: frozenset[str] = frozenset({"map", "table", "profiles"})

# Old spellings still accepted in files and on the command line (the Go original's names).
ALIASES: dict[str, str] = {
    "network.allowed_domains": "network.allowlist",
    "incus.claude_uid": "incus.code_uid",
}

# A profile may use the Go original's short forms for the three keys profiles set most.
PROFILE_SHORTHANDS: dict[str, str] = {
    "image": "defaults.image",
    "environment": "defaults.environment",
    "persistent": "defaults.persistent",
}


class KeySpec(msgspec.Struct, frozen=True):
    """What one dotted key may hold.

    `check` applies to the value, to each item of a list, or to each entry name of a map
    (every map in the model maps environment variable names to strings).
    """

    key: str
    kind: Kind
    default: Any = None
    choices: tuple[str, ...] = ()
    check: Check | None = None


@functools.cache
def schema() -> dict[str, KeySpec]:
    """Every key of the model, tables included, by dotted name, in model order."""
    specs: dict[str, KeySpec] = {}
    _walk(Config, "", specs)
    return specs


def _walk(struct: type[msgspec.Struct], prefix: str, specs: dict[str, KeySpec]) -> None:
    for field in msgspec.structs.fields(struct):
        key = join(prefix, field.name)
        default = field.default
        if default is msgspec.NODEFAULT:
            default = field.default_factory()
        specs[key] = _spec(key, field.type, msgspec.to_builtins(default))
        if specs[key].kind == "table":
            _walk(field.type, key, specs)


def _unwrap(tp: Any) -> tuple[Any, Check | None]:
    if get_origin(tp) is Annotated:
        base, *extras = get_args(tp)
        return base, next((e for e in extras if isinstance(e, Check)), None)
    return tp, None


def _spec(key: str, tp: Any, default: Any) -> KeySpec:
    base, check = _unwrap(tp)
    origin = get_origin(base)
    if base in (bool, int, float, str):
        return KeySpec(key, base.__name__, default, check=check)
    if origin is Literal:
        return KeySpec(key, "enum", default, choices=get_args(base))
    if origin is tuple:
        return KeySpec(key, "list", default, check=_unwrap(get_args(base)[0])[1])
    if origin is dict:
        kind: Kind = "profiles" if key == "profiles" else "map"
        return KeySpec(key, kind, default, check=_unwrap(get_args(base)[0])[1])
    if isinstance(base, type) and issubclass(base, msgspec.Struct):
        return KeySpec(key, "table", default)
    raise TypeError(f"config field {key} has a type the schema cannot describe: {tp!r}")


def canonical(key: str) -> str:
    """`key` with an old alias replaced, also inside a profile."""
    parts = key.split(".")
    if parts[0] == "profiles" and len(parts) > 2:
        head, rest = ".".join(parts[:2]), ".".join(parts[2:])
        return join(head, ALIASES.get(rest, rest))
    return ALIASES.get(key, key)


def resolve(key: str) -> KeySpec | None:
    """The spec for dotted `key`, or None if the model has no such key."""
    key = canonical(key)
    specs = schema()
    if key in specs:
        return specs[key]
    parts = key.split(".")
    if parts[0] == "profiles" and len(parts) >= 2:
        return _resolve_in_profile(key, parts[2:])
    parent = specs.get(".".join(parts[:-1]))
    if parent is not None and parent.kind == "map" and len(parts) > 1:
        return KeySpec(key, "str")
    return None


def _resolve_in_profile(key: str, inner: list[str]) -> KeySpec | None:
    if not inner:
        return KeySpec(key, "table")
    if inner[0] in PROFILE_SHORTHANDS:
        inner = [*PROFILE_SHORTHANDS[inner[0]].split("."), *inner[1:]]
    if inner[0] == "profiles":
        return None  # profiles do not nest
    return resolve(".".join(inner))


def suggest(key: str) -> str | None:
    """The closest valid key to a mistyped `key`, if one is close enough."""
    import difflib

    parts = key.split(".")
    prefix, wanted = "", key
    if parts[0] == "profiles" and len(parts) > 2:
        prefix, wanted = ".".join(parts[:2]) + ".", ".".join(parts[2:])
    # Never suggest a table the key already sits in ("session" for "session.started").
    pool = [k for k in (*schema(), *ALIASES, *(PROFILE_SHORTHANDS if prefix else ()))
            if not (prefix and k.startswith("profiles")) and not wanted.startswith(k + ".")]
    matches = difflib.get_close_matches(wanted, pool, n=1, cutoff=0.6)
    return prefix + canonical(matches[0]) if matches else None


def leaf_keys() -> list[str]:
    """Every key that holds a value (not a table), for docs and completion."""
    return [k for k, spec in schema().items() if spec.kind not in ("table", "profiles")]
