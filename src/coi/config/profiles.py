"""`--profile NAME`: the `[profiles.NAME]` table applied as an overlay on the config.

A profile holds any config section (`[profiles.NAME.network]` ...) plus the Go original's
short forms `image`, `environment` and `persistent` (for the `[defaults]` keys).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from coi.config.merge import Layer, Merged, flatten, join, set_in
from coi.config.origin import Origin
from coi.config.schema import PROFILE_SHORTHANDS
from coi.errors import ConfigError


def profile_layers(files: Merged, name: str, file_order: Sequence[Origin],
                   user_file: str) -> list[Layer]:
    """The overlay of profile `name`, from the merged config files.

    The profile's keys may come from several files; they are grouped by file (in file
    precedence order) so each value keeps the file that defined it as its `via`.
    """
    profiles = files.data.get("profiles", {})
    if name not in profiles:
        raise unknown_profile(name, sorted(profiles), user_file)
    groups: dict[Origin, dict[str, Any]] = {}
    for rel_key, value in flatten(profiles[name]):
        source = files.origins[f"profiles.{name}.{rel_key}"]
        set_in(groups.setdefault(source, {}), expand_shorthand(rel_key), value)
    ordered = sorted(groups.items(), key=lambda item: file_order.index(item[0]))
    return [Layer(Origin("profile", name, via=source), data) for source, data in ordered]


def expand_shorthand(rel_key: str) -> str:
    """`image` → `defaults.image`, `environment.X` → `defaults.environment.X`."""
    head, _, rest = rel_key.partition(".")
    target = PROFILE_SHORTHANDS.get(head)
    if target is None:
        return rel_key
    return join(target, rest) if rest else target


def unknown_profile(name: str, known: list[str], user_file: str) -> ConfigError:
    if known:
        hint = "known profiles: " + ", ".join(known)
    else:
        hint = f"no profiles are defined; add a [profiles.{name}] table to {user_file}"
    return ConfigError(f'unknown profile "{name}"', hint=hint)
