"""Extra mounts (`--mount HOST:CONTAINER`): refuse the ones that hand over host secrets,
daemon sockets, coi's own state, or an unprotected view of the workspace.

The host side is checked after resolving symlinks (a link to ~/.ssh is ~/.ssh). A source
is refused when it is a forbidden path, lies inside one, or contains one (mounting ~ or
/home would include ~/.ssh). Extra mounts get the same uid mapping as the workspace, so
files the agent writes there belong to the workspace owner on the host.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from coi.errors import PolicyError

# Below the user's home: credentials and keys of common tools.
HOME_SECRETS = (".ssh", ".gnupg", ".aws", ".azure", ".kube", ".docker", ".config/gh",
                ".config/gcloud", ".config/hub", ".config/git/credentials", ".netrc",
                ".git-credentials", ".gitconfig", ".npmrc", ".pypirc", ".pgpass",
                ".password-store", ".local/share/keyrings", ".claude", ".claude.json",
                ".codex", ".config/incus", ".config/lxc")
SYSTEM = ("/etc", "/run", "/var/run", "/var/lib/incus", "/var/lib/lxd", "/var/lib/docker",
          "/var/lib/containerd", "/var/snap", "/proc", "/sys", "/dev", "/boot", "/root")
CONTAINER_FORBIDDEN = ("/proc", "/sys", "/dev", "/workspace")


@dataclass(frozen=True)
class ExtraMount:
    host: Path  # resolved
    container: str
    readonly: bool = False

    def device(self) -> dict[str, str]:
        return {"type": "disk", "source": str(self.host), "path": self.container,
                "readonly": "true" if self.readonly else "false"}


def _overlaps(path: str, other: str) -> bool:
    return path == other or path.startswith(other.rstrip("/") + "/") or \
        other.startswith(path.rstrip("/") + "/")


def forbidden_sources(home: Path, coi_home: Path) -> list[tuple[str, str]]:
    """(path, why) pairs a mount source may not overlap. /root is another user's home,
    except for root itself (whose home rules above then apply)."""
    real_home = os.path.realpath(home)
    found = [(str(home / rel), "holds credentials or keys") for rel in HOME_SECRETS]
    found += [(path, "holds host configuration or daemon sockets") for path in SYSTEM
              if os.path.realpath(path) != real_home]
    found.append((str(coi_home), "is coi's own state (sessions, trust, audit logs)"))
    return [(os.path.realpath(p), why) for p, why in found]


def check_source(host: str, home: Path, coi_home: Path, workspace: Path,
                 protected: Iterable[str] = (), *, exempt: Path | None = None) -> Path:
    """The resolved source, or PolicyError saying why it may not be mounted. `exempt`
    (coi's own storage dir) may lie inside coi's state."""
    resolved, shown = _check_host(host, home, coi_home, exempt)
    _check_workspace(resolved, shown, os.path.realpath(workspace), protected)
    return Path(resolved)


def check_workspace(workspace: str, home: Path, coi_home: Path) -> None:
    """A workspace is mounted like an extra mount: the same host paths are refused
    (`/`, your home itself, ~/.ssh, /etc, coi's state, ...)."""
    _check_host(workspace, home, coi_home, None, what="use", as_what="as a workspace")


def _check_host(host: str, home: Path, coi_home: Path, exempt: Path | None, *,
                what: str = "mount", as_what: str = "") -> tuple[str, str]:
    if host == "~" or host.startswith("~/"):
        host = str(home) + host[1:]
    if not os.path.isabs(host):
        raise PolicyError(f"mount source {host!r} must be an absolute path or start with ~/")
    resolved = os.path.realpath(host)
    if not os.path.exists(resolved):
        raise PolicyError(f"mount source {host} does not exist")
    shown = host if resolved == host else f"{host} (-> {resolved})"
    shown = f"{shown} {as_what}".strip()
    if resolved == "/" or resolved == os.path.realpath(home):
        raise _refuse(shown, "would expose your whole home or system", what)
    room = os.path.realpath(exempt) if exempt is not None else None
    inside_exempt = room is not None and (resolved == room or resolved.startswith(room + "/"))
    for path, why in forbidden_sources(home, coi_home):
        if inside_exempt and path == os.path.realpath(coi_home):
            continue
        if _overlaps(resolved, path):
            raise _refuse(shown, f"overlaps {path}, which {why}", what)
    return resolved, shown


def _check_workspace(resolved: str, shown: str, workspace: str,
                     protected: Iterable[str]) -> None:
    if workspace == resolved or workspace.startswith(resolved.rstrip("/") + "/"):
        raise _refuse(shown, "contains the workspace, bypassing its protected paths")
    for rel in protected:
        if _overlaps(resolved, posixpath.join(workspace, rel.rstrip("/"))):
            raise _refuse(shown, f"overlaps the protected path {rel}")


def _refuse(shown: str, why: str, what: str = "mount") -> PolicyError:
    return PolicyError(f"refusing to {what} {shown}: it {why}",
                       hint=f"{what} a narrower directory that holds only what the agent "
                            "needs (copy files there if needed)")


def check_target(container: str) -> str:
    """The normalised container path, or PolicyError."""
    if not container.startswith("/"):
        raise PolicyError(f"container path {container!r} must be absolute")
    norm = posixpath.normpath(container)
    if norm == "/" or any(norm == p or norm.startswith(p + "/") for p in CONTAINER_FORBIDDEN):
        raise PolicyError(f"cannot mount over {norm} in the container",
                          hint="pick a path like /mnt/data (not /, /proc, /sys, /dev, "
                               "or /workspace and below)")
    return norm


def validate(specs: Sequence[tuple[str, str, bool]], *, home: Path, coi_home: Path,
             workspace: Path, protected: Iterable[str] = (),
             exempt: Path | None = None) -> list[ExtraMount]:
    """Check (host, container, readonly) triples; refuse two mounts at one path.
    `exempt`: coi's storage dir (`--storage NAME`), which lives in coi's state."""
    result: list[ExtraMount] = []
    rels = list(protected)
    for host, container, readonly in specs:
        target = check_target(container)
        if any(_overlaps(target, m.container) for m in result):
            raise PolicyError(f"two mounts at or inside {target}",
                              hint="nested mounts are refused; use separate paths")
        source = check_source(host, home, coi_home, workspace, rels, exempt=exempt)
        result.append(ExtraMount(source, target, readonly))
    return result


def devices(mounts: Sequence[ExtraMount]) -> dict[str, dict[str, str]]:
    """Disk devices `mount-0`, `mount-1`, … for the create request."""
    return {f"mount-{i}": m.device() for i, m in enumerate(mounts)}
