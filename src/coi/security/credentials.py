"""Credential isolation: the container's environment is built from an allow-list, never
copied from the host; instance keys that keep the host's daemons, sockets and privileges
out; profiles that would undo that are refused.

What is never handed over: SSH keys and agent (SSH_AUTH_SOCK), ~/.gitconfig and git
credential helpers, ~/.aws, ~/.config/gh, ~/.netrc, host daemon sockets. coi mounts none of
them (mounts.py refuses them as extra mounts) and forwards no variable it was not told to.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from coi.errors import PolicyError
from coi.incus.client import Client

CONTAINER_HOME = "/home/code"
CONTAINER_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Variables that point at host sockets or carry host credentials by their very nature.
NEVER_FORWARD = frozenset({"SSH_AUTH_SOCK", "SSH_AGENT_PID", "GPG_AGENT_INFO",
                           "DOCKER_HOST", "INCUS_SOCKET", "DBUS_SESSION_BUS_ADDRESS",
                           "XDG_RUNTIME_DIR", "KRB5CCNAME"})
_TERM = re.compile(r"[A-Za-z0-9._+-]{1,64}")


@dataclass(frozen=True)
class SecurityOptions:
    """Instance-level security settings (nesting is for Docker inside the container)."""

    nesting: bool = True


def container_env(host_env: Mapping[str, str], *, forward: Iterable[str] = (),
                  static: Mapping[str, str] | None = None,
                  explicit: Mapping[str, str] | None = None,
                  tool: Mapping[str, str] | None = None) -> dict[str, str]:
    """The whole environment for the container. Later sources win: base < `static`
    ([defaults.environment]) < `forward` (host values of [defaults] forward_env) <
    `explicit` (--env) < `tool` (what the tool adapter needs). Nothing else from
    `host_env` gets in; TERM is copied only when it is a plain terminal name."""
    env = {"HOME": CONTAINER_HOME, "USER": "code", "LOGNAME": "code", "SHELL": "/bin/bash",
           "PATH": CONTAINER_PATH, "LANG": "C.UTF-8"}
    term = host_env.get("TERM", "")
    env["TERM"] = term if _TERM.fullmatch(term) else "xterm-256color"
    env.update(static or {})
    for name in forward:
        if name in NEVER_FORWARD:
            raise PolicyError(f"{name} is never forwarded into the container",
                              hint=f"remove {name} from [defaults] forward_env")
        if name in host_env:
            env[name] = host_env[name]
    env.update(explicit or {})
    env.update(tool or {})
    refused = sorted(NEVER_FORWARD & env.keys())
    if refused:
        raise PolicyError(f"refusing to set {', '.join(refused)} in the container: they "
                          "point at host sockets or credentials")
    return env


def instance_config(options: SecurityOptions = SecurityOptions()) -> dict[str, str]:
    """Instance config keys for the create request (they override any profile)."""
    config = {"security.privileged": "false", "security.guestapi": "false",
              "security.nesting": "true" if options.nesting else "false"}
    if options.nesting:
        # What Docker needs inside an unprivileged container.
        config["security.syscalls.intercept.mknod"] = "true"
        config["security.syscalls.intercept.setxattr"] = "true"
    return config


def profile_problems(profile: Mapping[str, Any]) -> list[str]:
    """What in one profile (as GET /1.0/profiles/NAME returns it) coi refuses."""
    name = profile.get("name", "?")
    config = profile.get("config") or {}
    found = []
    if str(config.get("security.privileged", "false")).lower() in ("true", "1", "yes", "on"):
        found.append(f"profile {name} sets security.privileged=true")
    if config.get("raw.lxc"):
        found.append(f"profile {name} sets raw.lxc (arbitrary LXC config)")
    for device, spec in (profile.get("devices") or {}).items():
        kind = spec.get("type")
        if kind == "disk" and spec.get("source") and spec.get("path") != "/":
            found.append(f"profile {name} mounts host path {spec['source']} ({device})")
        elif kind in ("proxy", "unix-char", "unix-block", "unix-hotplug", "usb", "gpu"):
            found.append(f"profile {name} passes a host {kind} device ({device})")
    return found


def check_profiles(client: Client, profiles: Sequence[str]) -> list[dict[str, Any]]:
    """The profiles the container will use, as the daemon has them; PolicyError if one
    undoes coi's isolation."""
    found: list[str] = []
    fetched = [client.get(f"/profiles/{name}", context=f"profile {name}") for name in profiles]
    for profile in fetched:
        found += profile_problems(profile)
    if found:
        raise PolicyError("; ".join(found), hint="coi refuses privileged containers and "
                          "host devices from profiles; fix the profile or use another one")
    return fetched
