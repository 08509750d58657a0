"""The one merge of config layers: pure, deep for tables, replacing for everything else.

Rules (documented in docs/configuration.md):
- layers apply in order; a later layer wins for every key it sets;
- tables merge key by key, at any depth (so `[defaults.environment]` entries add up);
- lists and scalars replace whole — a list is never appended to;
- a key a layer does not mention keeps its earlier value. In particular an omitted bool
  is not reset to false (the Go original's bug).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import msgspec

from coi.config.origin import Origin


class Layer(msgspec.Struct, frozen=True):
    """One source's settings as nested tables, all from one origin."""

    origin: Origin
    data: Mapping[str, Any]


class Merged(msgspec.Struct, frozen=True):
    data: dict[str, Any]
    origins: dict[str, Origin]


def join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def merge_layers(layers: Iterable[Layer]) -> Merged:
    """Merge `layers` (lowest precedence first); record the origin of every leaf."""
    data: dict[str, Any] = {}
    origins: dict[str, Origin] = {}
    for layer in layers:
        _merge_into(data, layer.data, layer.origin, "", origins)
    return Merged(data, origins)


def _merge_into(target: dict[str, Any], overlay: Mapping[str, Any], origin: Origin,
                prefix: str, origins: dict[str, Origin]) -> None:
    for name, value in overlay.items():
        key = join(prefix, name)
        if isinstance(value, Mapping):
            if not isinstance(target.get(name), dict):
                _forget(origins, key)
                target[name] = {}
            _merge_into(target[name], value, origin, key, origins)
        else:
            if isinstance(target.get(name), dict):
                _forget(origins, key)
            # Copy lists so the merged result never aliases a layer's data.
            target[name] = list(value) if isinstance(value, list | tuple) else value
            origins[key] = origin


def _forget(origins: dict[str, Origin], key: str) -> None:
    """Drop the origins of a value being replaced by one of another shape."""
    stale = [k for k in origins if k == key or k.startswith(key + ".")]
    for k in stale:
        del origins[k]


def flatten(data: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted key, value) for every leaf; empty tables have no leaves."""
    for name, value in data.items():
        key = join(prefix, name)
        if isinstance(value, Mapping):
            yield from flatten(value, key)
        else:
            yield key, value


def set_in(data: dict[str, Any], key: str, value: Any) -> None:
    """Set dotted `key` in nested `data`, creating tables on the way."""
    *parents, last = key.split(".")
    for name in parents:
        data = data.setdefault(name, {})
    data[last] = value


def get_in(data: Mapping[str, Any], key: str) -> Any:
    """The value at dotted `key`; KeyError if any part is missing."""
    value: Any = data
    for name in key.split("."):
        if not isinstance(value, Mapping):
            raise KeyError(key)
        value = value[name]
    return value
