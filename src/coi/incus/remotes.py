"""Remotes as the `incus` CLI knows them, so `incus remote add` works for coi too.

The CLI keeps them in `$INCUS_CONF/config.yml` (default `~/.config/incus`); under sudo
the invoking user's file is the one that counts. A unix address means a local socket;
an https address uses the CLI's client certificate and the server certificate it pinned.
"""

from __future__ import annotations

import os
import pwd
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coi.errors import ConfigError
from coi.incus.client import Client
from coi.incus.transport import Endpoint, default_socket_path

LOCAL = "local"
REMOTES_HINT = "`incus remote list` shows the remotes; `incus remote add` adds one"


@dataclass(frozen=True)
class Remote:
    name: str
    addr: str
    protocol: str = "incus"
    project: str = ""
    auth_type: str = "tls"


def config_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where the incus CLI keeps config.yml and its certificates."""
    env = os.environ if env is None else env
    if env.get("INCUS_CONF"):
        return Path(env["INCUS_CONF"])
    return _home(env) / ".config" / "incus"


def _home(env: Mapping[str, str]) -> Path:
    sudo_user = env.get("SUDO_USER")
    if sudo_user and os.geteuid() == 0:
        try:
            return Path(pwd.getpwnam(sudo_user).pw_dir)
        except KeyError:
            pass
    return Path(env.get("HOME") or pwd.getpwuid(os.getuid()).pw_dir)


def parse_config(doc: Mapping[str, Any] | None) -> tuple[str, dict[str, Remote]]:
    """(default remote, remotes by name) from a parsed config.yml; `local` always exists."""
    doc = doc or {}
    remotes = {LOCAL: Remote(LOCAL, "unix://")}
    for name, entry in (doc.get("remotes") or {}).items():
        if not isinstance(entry, Mapping):
            raise ConfigError(f"remote {name!r} in the incus config is not a mapping")
        remotes[str(name)] = Remote(
            name=str(name),
            addr=str(entry.get("addr") or ""),
            protocol=str(entry.get("protocol") or "incus"),
            project=str(entry.get("project") or ""),
            auth_type=str(entry.get("auth_type") or "tls"),
        )
    return str(doc.get("default-remote") or LOCAL), remotes


def load_config(directory: Path) -> tuple[str, dict[str, Remote]]:
    path = directory / "config.yml"
    try:
        text = path.read_text()
    except FileNotFoundError:
        return parse_config(None)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    import yaml  # only here: it costs ~8 ms and most commands never get this far

    try:
        doc = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    if doc is not None and not isinstance(doc, Mapping):
        raise ConfigError(f"{path} is not a mapping of settings")
    return parse_config(doc)


def endpoint_for(remote: Remote, directory: Path) -> Endpoint:
    """How to reach a remote: its socket, or HTTPS with the CLI's credentials."""
    if remote.protocol != "incus":
        raise ConfigError(f"remote {remote.name!r} is a {remote.protocol} image server, "
                          "not an Incus daemon", hint=REMOTES_HINT)
    url = urllib.parse.urlsplit(remote.addr)
    if url.scheme == "unix":
        return Endpoint(socket_path=(url.netloc + url.path) or default_socket_path())
    if url.scheme != "https" or not url.hostname:
        raise ConfigError(f"remote {remote.name!r} has an address coi cannot use: "
                          f"{remote.addr!r}", hint=REMOTES_HINT)
    if remote.auth_type != "tls":
        raise ConfigError(f"remote {remote.name!r} uses {remote.auth_type} authentication; "
                          "coi supports TLS client certificates only", hint=REMOTES_HINT)
    pinned = directory / "servercerts" / f"{remote.name}.crt"
    return Endpoint(
        host=url.hostname,
        port=url.port or 8443,
        client_cert=str(directory / "client.crt"),
        client_key=str(directory / "client.key"),
        server_cert=str(pinned) if pinned.exists() else None,
    )


def connect(remote: str | None = None, project: str | None = None) -> Client:
    """A client for `remote` (default: the CLI's default remote), in `project`
    (default: the remote's own project, else `default`)."""
    directory = config_dir()
    default, remotes = load_config(directory)
    name = remote or default
    if name not in remotes:
        raise ConfigError(f"no Incus remote named {name!r}", hint=REMOTES_HINT)
    chosen = remotes[name]
    return Client(endpoint_for(chosen, directory), project or chosen.project or "default")
