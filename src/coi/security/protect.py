"""Protected paths and secret masks: plan, apply before start, release at the end.

How (measured on Incus 6.0.4, kernel 6.18; docs/security.md has the evidence): coi binds
the workspace at a private staging directory on the host and, inside that tree, binds
each protected path onto itself read-only and each of its ancestors onto itself (making
them mount points that cannot be renamed or removed). The workspace device points at the
staging tree with `recursive=true`. Because these mounts come from the host's mount
namespace, the kernel locks them in the container's namespace: container root can neither
unmount them, nor remount them read-write, nor rename what they cover.

The session runtime calls, in this order:
  plan(...)        -> ProtectionPlan, after config is loaded (pure but for lstat);
  apply(plan, ...) before every container start (needs root);
  plan.workspace_device() as the workspace disk device of the create request;
  verify(...)      right after start (see coi.security.verify);
  release(...)     once the container is stopped or deleted;
  restore_protections(...) from `coi clean`, for records whose container is gone.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from coi import state
from coi.config.model import Config
from coi.errors import CoiError, PolicyError
from coi.security import hostmount, paths
from coi.security.paths import Target

RUN_DIR = Path("/run/coi/protect")
SCHEMA = 1


@dataclass(frozen=True)
class ProtectionPlan:
    workspace: Path
    container: str
    enabled: bool
    targets: tuple[Target, ...] = ()
    masks: tuple[Target, ...] = ()
    anchors: tuple[str, ...] = ()
    run_dir: Path = RUN_DIR

    @property
    def staging(self) -> Path:
        return self.run_dir / self.container / "ws"

    @property
    def active(self) -> bool:
        return self.enabled and bool(self.targets or self.masks)

    def workspace_device(self, path: str = "/workspace") -> dict[str, str]:
        """The workspace disk device for the create request (replaces a plain one)."""
        if not self.active:
            return {"type": "disk", "source": str(self.workspace), "path": path}
        return {"type": "disk", "source": str(self.staging), "path": path,
                "recursive": "true"}


@dataclass
class ReleaseResult:
    released: bool
    kept: list[str] = field(default_factory=list)  # placeholders the agent filled in


def plan(workspace: Path, config: Config, container: str, *,
         writable_git_hooks: bool = False, run_dir: Path = RUN_DIR) -> ProtectionPlan:
    """What to protect and mask in `workspace`. PolicyError for a symlinked path."""
    workspace = Path(os.path.abspath(workspace))
    enabled = paths.protection_enabled(config, writable_git_hooks)
    targets = paths.plan_targets(workspace, paths.configured_paths(config)) if enabled else []
    masks = paths.secret_targets(workspace, config.security.secret_paths)
    return ProtectionPlan(workspace, container, enabled or bool(masks), tuple(targets),
                          tuple(masks), tuple(_anchors(targets)), run_dir)


def _anchors(targets: list[Target]) -> list[str]:
    covered = [t.rel for t in targets if t.kind == "dir"]
    return [a for a in paths.anchors(targets)
            if not any(a == c or a.startswith(c + "/") for c in covered)]


def record_path(coi_home: Path, container: str) -> Path:
    return coi_home / "protect" / f"{container}.json"


def apply(plan: ProtectionPlan, coi_home: Path) -> None:
    """Make the host-side changes. Recorded first, so a crash leaves `coi clean` a list."""
    if not plan.active:
        return
    if os.geteuid() != 0:
        raise PolicyError("protected paths and secret masks need host-side mounts, which "
                          "need root", hint="run coi with sudo, or (not recommended) set "
                          "[security] disable_protection = true")
    for target in plan.targets:
        if target.exists:
            hostmount.refuse_hardlinks(plan.workspace, target.rel)
    release(coi_home, plan.container)  # a restart of a persistent container: start clean
    record: dict[str, object] = {"container": plan.container, "workspace": str(plan.workspace),
                                 "run_dir": str(plan.run_dir), "created": []}
    _write(coi_home, plan.container, record)
    try:
        with _placeholder_lock(coi_home, plan.workspace):
            _create_placeholders(plan, coi_home, record)
        _mount_tree(plan)
    except BaseException:
        release(coi_home, plan.container)
        raise


def _write(coi_home: Path, container: str, record: dict[str, object]) -> None:
    state.write_record(record_path(coi_home, container), record, SCHEMA)


def _placeholder_lock(coi_home: Path, workspace: Path) -> contextlib.AbstractContextManager[None]:
    """Sessions of one workspace share its placeholders: one of them at a time may create,
    adopt or remove them."""
    key = hashlib.sha256(str(workspace).encode()).hexdigest()[:16]
    return state.file_lock(coi_home / "locks" / f"protect-{key}.lock")


def _placeholders_of_others(coi_home: Path, workspace: Path,
                            container: str) -> dict[str, dict[str, str]]:
    """Placeholders that other live sessions of `workspace` created or adopted, by path."""
    found: dict[str, dict[str, str]] = {}
    for name in recorded(coi_home):
        if name == container:
            continue
        try:
            other = state.read_record(record_path(coi_home, name), SCHEMA)
        except (FileNotFoundError, CoiError):
            continue
        if other.get("workspace") == str(workspace):
            found.update({e["rel"]: e for e in other.get("created", [])})
    return found


def _create_placeholders(plan: ProtectionPlan, coi_home: Path,
                         record: dict[str, object]) -> None:
    """Create what is missing of each protected path; a placeholder another session of the
    workspace made is adopted (recorded as ours too), so the last session out removes it."""
    info = os.stat(plan.workspace)
    owner = (info.st_uid, info.st_gid)
    created: list[dict[str, str]] = record["created"]  # type: ignore[assignment]
    shared = _placeholders_of_others(coi_home, plan.workspace, plan.container)
    for target in plan.targets:
        parts = target.rel.split("/")
        for depth in range(1, len(parts) + 1):
            rel = "/".join(parts[:depth])
            if rel in shared:
                if all(e["rel"] != rel for e in created):
                    created.append(dict(shared[rel]))
                    _write(coi_home, plan.container, record)
                continue
            if os.path.lexists(plan.workspace / rel):
                continue
            leaf = depth == len(parts)
            is_dir = not leaf or target.kind == "dir"
            content = target.placeholder if leaf and not is_dir else b""
            created.append({"rel": rel, "kind": "dir" if is_dir else "file",
                            "content": content.hex()})
            _write(coi_home, plan.container, record)  # before the change, for crashes
            hostmount.create_placeholder(plan.workspace, rel, is_dir, content, owner)


def _mount_tree(plan: ProtectionPlan) -> None:
    box = plan.staging.parent
    box.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    box.mkdir(mode=0o700, exist_ok=True)
    plan.staging.mkdir(mode=0o700, exist_ok=True)
    empty_dir, empty_file = box / "empty-dir", box / "empty-file"
    empty_dir.mkdir(mode=0o555, exist_ok=True)
    empty_file.touch(mode=0o444, exist_ok=True)
    hostmount.bind_private(plan.workspace, plan.staging)
    for rel in plan.anchors:
        hostmount.self_bind(plan.staging, rel, readonly=False)
    for target in plan.targets:
        hostmount.self_bind(plan.staging, target.rel, readonly=True)
    for target in plan.masks:
        stand_in = empty_dir if target.kind == "dir" else empty_file
        hostmount.mask(plan.staging, target.rel, stand_in)


def release(coi_home: Path, container: str) -> ReleaseResult:
    """Undo `apply` for `container`: unmount, remove untouched placeholders, forget."""
    path = record_path(coi_home, container)
    try:
        record = state.read_record(path, SCHEMA)
    except FileNotFoundError:
        return ReleaseResult(False)
    box = Path(str(record["run_dir"])) / container
    hostmount.umount_tree(box / "ws")
    shutil.rmtree(box, ignore_errors=True)
    workspace = Path(str(record["workspace"]))
    with _placeholder_lock(coi_home, workspace):
        in_use = _placeholders_of_others(coi_home, workspace, container)
        mine = [e for e in record.get("created", []) if e["rel"] not in in_use]
        kept = _remove_placeholders(workspace, mine)
        path.unlink(missing_ok=True)
    return ReleaseResult(True, kept)


def _remove_placeholders(workspace: Path, created: list[dict[str, str]]) -> list[str]:
    kept = []
    for entry in reversed(created):
        target = workspace / entry["rel"]
        if entry["kind"] == "dir":
            try:
                target.rmdir()
            except FileNotFoundError:
                pass
            except OSError:
                kept.append(entry["rel"])
        elif _unchanged(target, bytes.fromhex(entry["content"])):
            try:
                target.unlink()
            except OSError:  # EBUSY: another session of the workspace has it mounted
                kept.append(entry["rel"])
        elif os.path.lexists(target):
            kept.append(entry["rel"])
    return kept


def _unchanged(path: Path, content: bytes) -> bool:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as handle:
            return handle.read(len(content) + 1) == content
    return False


def recorded(coi_home: Path) -> list[str]:
    """Containers that have host-side protection applied (or half-applied)."""
    directory = coi_home / "protect"
    return sorted(p.stem for p in directory.glob("*.json")) if directory.is_dir() else []


def orphans(coi_home: Path, live: Collection[str]) -> list[str]:
    """Recorded containers that are not in `live` (the running coi containers)."""
    return [name for name in recorded(coi_home) if name not in live]


def restore_protections(coi_home: Path, live: Collection[str]) -> dict[str, ReleaseResult]:
    """For `coi clean`: release every record whose container is not running."""
    return {name: release(coi_home, name) for name in orphans(coi_home, live)}
