"""Layered TOML configuration → one typed, validated Config that knows each value's origin.

    from coi.config import load_config
    loaded = load_config(profile="rust", flags={"network.mode": "open"})
    loaded.config.network.mode          # "open"
    loaded.origin("network.mode")       # Origin(kind="flag")

`coi.config.edit` (used by `coi config set`) is not imported here: it loads tomlkit.
"""

from __future__ import annotations

from coi.config.context import ConfigContext
from coi.config.loader import LoadedConfig, load_config
from coi.config.model import Config
from coi.config.origin import Origin
from coi.config.sources import ENV_VARS, ConfigFile, EnvVar

__all__ = [
    "ENV_VARS",
    "Config",
    "ConfigContext",
    "ConfigFile",
    "EnvVar",
    "LoadedConfig",
    "Origin",
    "load_config",
]
