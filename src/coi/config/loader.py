"""`load_config`: every layer read, validated, merged, and typed into one Config."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

from coi.config.context import ConfigContext, expand_user
from coi.config.merge import Layer, Merged, get_in, merge_layers
from coi.config.model import Config
from coi.config.origin import DEFAULT_ORIGIN, Origin, display_path
from coi.config.profiles import profile_layers
from coi.config.schema import canonical, resolve
from coi.config.sources import ConfigFile, config_files, env_layers, flag_layer, read_file_layer
from coi.config.validate import unknown_key
from coi.errors import ConfigError


class LoadedConfig(msgspec.Struct, frozen=True):
    """The effective config, where each value came from, and the files consulted."""

    config: Config
    origins: dict[str, Origin]
    files: tuple[ConfigFile, ...]
    profile: str | None
    home: Path

    def to_dict(self) -> dict[str, Any]:
        """The config as plain TOML/JSON-shaped data (dicts, lists, scalars)."""
        data: dict[str, Any] = _lists(msgspec.to_builtins(self.config))
        return data

    def value(self, key: str) -> Any:
        """The value at dotted `key` (a table gives a dict); ConfigError if unknown."""
        key = canonical(key)
        try:
            return get_in(self.to_dict(), key)
        except KeyError:
            if resolve(key) is None:
                raise unknown_key(key) from None
            raise ConfigError(f"{key}: not set") from None

    def origin(self, key: str) -> Origin | None:
        """Where the leaf at `key` came from (None for a table or an unset key)."""
        return self.origins.get(canonical(key))

    def untrusted_keys(self) -> list[str]:
        """Keys whose value came from the project file, directly or through a profile."""
        return [key for key, origin in self.origins.items() if origin.untrusted]

    def expand(self, path: str) -> Path:
        """A config path with `~` meaning the invoking user's home (also under sudo)."""
        return expand_user(path, self.home)


def _lists(value: Any) -> Any:
    """Tuples (our immutable lists) as lists, so values compare and print as in TOML."""
    if isinstance(value, dict):
        return {key: _lists(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return list(value)
    return value


def default_layer() -> Layer:
    return Layer(DEFAULT_ORIGIN, msgspec.to_builtins(Config()))


def load_config(context: ConfigContext | None = None, *, profile: str | None = None,
                flags: Mapping[str, object] | None = None) -> LoadedConfig:
    """Load the layers, lowest precedence first:

    defaults < /etc/coi/config.toml < ~/.config/coi/config.toml < ./.coi.toml
    < $COI_CONFIG < COI_* variables (sources.ENV_VARS) < profile `profile` < `flags`.

    `flags` maps dotted keys to values; None values are skipped. Raises ConfigError.
    """
    ctx = context or ConfigContext.from_environ()
    files, file_layers = _read_files(ctx)
    layers = [default_layer(), *file_layers, *env_layers(ctx.env)]
    if profile is not None:
        merged_files = merge_layers(file_layers)
        order = [layer.origin for layer in file_layers]
        user_file = display_path(ctx.user_config, ctx.home)
        layers += profile_layers(merged_files, profile, order, user_file)
    layers.append(flag_layer(flags or {}))
    merged = merge_layers(layers)
    return LoadedConfig(_typed(merged), merged.origins, tuple(files), profile, ctx.home)


def _read_files(ctx: ConfigContext) -> tuple[list[ConfigFile], list[Layer]]:
    files: list[ConfigFile] = []
    layers: list[Layer] = []
    for kind, path in config_files(ctx):
        layer = read_file_layer(kind, path, ctx.home)
        files.append(ConfigFile(kind, path, layer is not None))
        if layer is not None:
            layers.append(layer)
    return files, layers


def _typed(merged: Merged) -> Config:
    try:
        return msgspec.convert(merged.data, Config)
    except msgspec.ValidationError as exc:
        # Every layer was validated already, so this means the validator and the model
        # disagree: still report it as a config error, not a traceback.
        raise ConfigError(f"invalid configuration: {exc}") from None
