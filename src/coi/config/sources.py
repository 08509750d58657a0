"""Reading the config layers: TOML files, `COI_*` environment variables, CLI flags.

Each reader returns a validated Layer, so errors name the file or variable at fault.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

from coi.config.context import ConfigContext
from coi.config.merge import Layer, set_in
from coi.config.origin import FLAG_ORIGIN, Origin, OriginKind, display_path
from coi.config.schema import canonical, resolve
from coi.config.validate import check_document, check_value, parse_text, unknown_key
from coi.errors import ConfigError


class EnvVar(msgspec.Struct, frozen=True):
    name: str
    key: str
    help: str


# The environment variables that override config keys (above files, below profiles).
# docs/configuration.md lists them; a test keeps the two in step.
ENV_VARS: tuple[EnvVar, ...] = (
    EnvVar("COI_IMAGE", "defaults.image", "Image to start sessions from."),
    EnvVar("COI_PERSISTENT", "defaults.persistent", "Keep containers after the session."),
    EnvVar("COI_TOOL", "tool.name", "AI tool to run."),
    EnvVar("COI_NETWORK", "network.mode", "Network mode: restricted, allowlist or open."),
    EnvVar("COI_PROJECT", "incus.project", "Incus project to create containers in."),
    EnvVar("COI_REMOTE", "incus.remote", "Incus remote to use (from `incus remote list`)."),
    EnvVar("COI_SESSIONS_DIR", "paths.sessions_dir", "Where saved sessions live."),
    EnvVar("COI_STORAGE_DIR", "paths.storage_dir", "Where persistent storage lives."),
    EnvVar("COI_LOGS_DIR", "paths.logs_dir", "Where logs live."),
)


class ConfigFile(msgspec.Struct, frozen=True):
    """A file consulted while loading, in precedence order."""

    kind: OriginKind
    path: Path
    exists: bool


def config_files(ctx: ConfigContext) -> list[tuple[OriginKind, Path]]:
    """The config files to consult, lowest precedence first."""
    files: list[tuple[OriginKind, Path]] = [
        ("system", ctx.system_file),
        ("user", ctx.user_config),
        ("project", ctx.project_config),
    ]
    if ctx.explicit_config is not None:
        files.append(("explicit", ctx.explicit_config))
    return files


def read_file_layer(kind: OriginKind, path: Path, home: Path) -> Layer | None:
    """The validated layer of one config file; None if the file does not exist."""
    where = display_path(path, home)
    raw = _read_bytes(path, where, required=kind == "explicit")
    if raw is None:
        return None
    data = parse_toml(raw, where)
    return Layer(Origin(kind, str(path)), check_document(data, where))


def _read_bytes(path: Path, where: str, required: bool) -> bytes | None:
    try:
        return path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        if required:
            raise ConfigError(f"{where}: no such file",
                              hint="COI_CONFIG names it; fix or unset COI_CONFIG") from None
        return None
    except IsADirectoryError:
        raise ConfigError(f"{where}: is a directory, expected a TOML file") from None
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read: {exc.strerror or exc}") from None


_POSITION = re.compile(r"\s*\(at (line \d+, column \d+|end of document)\)$")


def parse_toml(raw: bytes, where: str) -> dict[str, Any]:
    """Parse TOML; a syntax error names the file, line and column."""
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{where}: not valid UTF-8 (byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = _POSITION.search(message)
        detail = message[: match.start()] if match else message
        position = f" at {match.group(1)}" if match else ""
        raise ConfigError(f"{where}: invalid TOML{position}: {detail}") from None


def env_layers(env: Mapping[str, str]) -> list[Layer]:
    """One layer per variable set (and non-empty), so each value names its variable."""
    layers = []
    for var in ENV_VARS:
        text = env.get(var.name, "")
        if text == "":
            continue  # an empty variable counts as unset, as shells make that easy
        spec = resolve(var.key)
        assert spec is not None, var.key  # ENV_VARS only names schema keys (tested)
        value = parse_text(spec, text, f"env {var.name}", var.key)
        data: dict[str, Any] = {}
        set_in(data, var.key, value)
        layers.append(Layer(Origin("env", var.name), data))
    return layers


def flag_layer(flags: Mapping[str, object]) -> Layer:
    """CLI flags as dotted keys; None means "flag not given".

    Strings for non-string keys are parsed as `coi config set` would (`"a.com,b.org"` for
    a list); a table key such as `defaults.environment` takes a mapping.
    """
    data: dict[str, Any] = {}
    for raw_key, given in flags.items():
        if given is not None:
            key = canonical(raw_key)
            set_in(data, key, _flag_value(key, given))
    return Layer(FLAG_ORIGIN, data)


def _flag_value(key: str, given: object) -> Any:
    spec = resolve(key)
    if spec is None:
        raise unknown_key(key, "command line")
    value: Any = given
    if isinstance(given, str) and spec.kind not in ("str", "enum"):
        value = parse_text(spec, given, "command line", key)
    elif isinstance(given, tuple):
        value = list(given)
    check_value(spec, value, "command line", key)
    return value
