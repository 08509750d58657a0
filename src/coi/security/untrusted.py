"""Untrusted project config: values from `./.coi.toml` may not weaken security.

A repository can ship a `.coi.toml`, and the agent can write one. Until the user pins the
file's content with `coi trust`, every value from it that is weaker than what the user's
own config (the baseline: everything but the project file) says is dropped, with a
warning naming the key. Stricter values (a tighter network, more protected paths, a limit
where there was none) are kept.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from coi.config.loader import LoadedConfig
from coi.config.merge import get_in, set_in
from coi.config.model import Config
from coi.security import trust

NETWORK_RANK = {"restricted": 0, "allowlist": 1, "open": 2}
# Keys the project file may never change from the baseline.
LOCKED_PREFIXES = ("incus.", "paths.", "monitoring.", "profiles.")
PROTECTION_LISTS = ("security.protected_paths", "security.additional_protected_paths")


@dataclass(frozen=True)
class Sanitised:
    config: Config
    dropped: list[str] = field(default_factory=list)
    trusted: bool = False

    def warnings(self, project_file: str = "./.coi.toml") -> list[str]:
        if not self.dropped:
            return []
        return [f"ignoring {', '.join(self.dropped)} from {project_file}: a project file "
                f"may not weaken security until you run `coi trust {project_file}`"]


def _more(a: Any, b: Any) -> bool:  # a list gained entries
    return bool(set(a) - set(b))


def _lost(a: Any, b: Any) -> bool:  # a list lost entries
    return bool(set(b) - set(a))


def _turned_off(a: Any, b: Any) -> bool:
    return bool(b) and not a


def _turned_on(a: Any, b: Any) -> bool:
    return bool(a) and not b


def _changed_limit(a: Any, b: Any) -> bool:  # a limit may be added, not raised or removed
    return bool(b) and a != b


RULES: dict[str, Callable[[Any, Any], bool]] = {
    "network.mode": lambda a, b: NETWORK_RANK[a] > NETWORK_RANK[b],
    "network.allowlist": _more,
    "network.block_private_networks": _turned_off,
    "network.block_metadata_endpoint": _turned_off,
    "network.allow_local_network_access": _turned_on,
    "network.proxy": lambda a, b: a != b,
    "security.disable_protection": _turned_on,
    "security.secret_paths": _lost,
    "git.writable_hooks": _turned_on,
    "defaults.forward_env": _more,
    "limits.cpu": _changed_limit, "limits.cpu_allowance": _changed_limit,
    "limits.memory": _changed_limit, "limits.disk_read": _changed_limit,
    "limits.disk_write": _changed_limit, "limits.processes": _changed_limit,
    "limits.duration": _changed_limit,
    "limits.memory_swap": _turned_on,
}


def project_file(loaded: LoadedConfig) -> Path | None:
    found = [f.path for f in loaded.files if f.kind == "project" and f.exists]
    return found[0] if found else None


def weakening(key: str, value: Any, base: Any) -> bool:
    if key.startswith(LOCKED_PREFIXES):
        return bool(value != base)
    rule = RULES.get(key)
    return rule is not None and rule(value, base)


def sanitise(loaded: LoadedConfig, baseline: Config, coi_home: Path) -> Sanitised:
    """The config to use: `loaded` minus untrusted weakening values (restored to
    `baseline`, the config loaded without the project file)."""
    source = project_file(loaded)
    if source is not None and trust.is_trusted(coi_home, source):
        return Sanitised(loaded.config, [], True)
    data, base = loaded.to_dict(), _lists(msgspec.to_builtins(baseline))
    dropped = [key for key in sorted(set(loaded.untrusted_keys()))
               if _has(base, key) and weakening(key, get_in(data, key), get_in(base, key))]
    if _protection_lost(loaded, data, base):
        dropped += [k for k in PROTECTION_LISTS if k not in dropped]
    for key in dropped:
        set_in(data, key, get_in(base, key))
    return Sanitised(msgspec.convert(data, Config), dropped, False)


def _protection_lost(loaded: LoadedConfig, data: dict[str, Any], base: dict[str, Any]) -> bool:
    """Protected paths are the union of two lists: no baseline path may go missing."""
    untrusted = set(loaded.untrusted_keys())
    if not untrusted & set(PROTECTION_LISTS):
        return False
    now = {p for k in PROTECTION_LISTS for p in get_in(data, k)}
    before = {p for k in PROTECTION_LISTS for p in get_in(base, k)}
    return bool(before - now)


def _has(data: dict[str, Any], key: str) -> bool:
    try:
        get_in(data, key)
    except KeyError:
        return False
    return True


def _lists(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _lists(v) for k, v in value.items()}
    return list(value) if isinstance(value, tuple) else value


def baseline(context: Any, *, profile: str | None = None,
             flags: dict[str, object] | None = None) -> Config:
    """The config as it would load without the project file (same context otherwise)."""
    from coi.config.loader import load_config

    class _NoProject(type(context)):  # type: ignore[misc]
        @property
        def project_config(self) -> Path:
            return Path("/nonexistent/coi-no-project/.coi.toml")

    fields = {f: getattr(context, f) for f in context.__struct_fields__}
    return load_config(_NoProject(**fields), profile=profile, flags=flags).config
