"""From flags and config to one checked SessionPlan: what `coi shell` and `coi run` do.

Everything that can be refused without the daemon is refused here, before a container
exists: an unknown tool, a network mode that cannot be enforced, a bad mount or --env.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from coi.config import ConfigContext, LoadedConfig, load_config
from coi.errors import UsageError
from coi.session import env as session_env
from coi.session.mounts import Mount, parse_mount, storage_mount
from coi.session.paths import container_home

__all__ = ["SessionFlags", "SessionPlan", "container_home", "load", "make_plan", "project_of",
           "with_tool"]
from coi.session.policy import SECURITY_CONFIG, apply_network_policy
from coi.state import Owner
from coi.tools import get_tool
from coi.tools.base import Tool
from coi.workspace import check_slot, container_prefix, workspace_path

SAVE_INTERVAL_ENV = "COI_SAVE_INTERVAL_SECONDS"  # for tests: seconds, overrides the config


@dataclass(frozen=True)
class SessionFlags:
    """The shared session flags as given (None: not given)."""

    workspace: str = "."
    slot: int | None = None
    persistent: bool | None = None
    resume: str | None = None  # "auto" or a session ID
    profile: str | None = None
    env: tuple[str, ...] = ()
    storage: str | None = None
    mounts: tuple[str, ...] = ()
    image: str | None = None
    network: str | None = None
    tool: str | None = None
    debug: bool = False

    def config_flags(self) -> dict[str, object]:
        return {"defaults.image": self.image, "network.mode": self.network,
                "tool.name": self.tool, "defaults.persistent": self.persistent}


@dataclass(frozen=True)
class SessionPlan:
    workspace: str
    tool: Tool
    binary: str
    image: str
    persistent: bool
    slot: int | None
    resume: str | None
    profile: str | None
    env: dict[str, str]
    mounts: tuple[Mount, ...]
    network: dict[str, str]  # config keys from the network policy
    bypass: bool
    debug: bool
    code_uid: int
    code_user: str
    remote: str
    project: str | None  # None: the remote's own project (as the incus CLI)
    prefix: str
    coi_home: Path
    host_home: Path
    owner: Owner | None
    logs_dir: Path
    save_interval: float
    shutdown_timeout: int
    flags: SessionFlags = field(default_factory=SessionFlags)

    @property
    def home(self) -> str:
        return container_home(self.code_user)

    @property
    def security(self) -> dict[str, str]:
        return dict(SECURITY_CONFIG)


def load(flags: SessionFlags, environ: Mapping[str, str] | None = None) -> LoadedConfig:
    env = dict(os.environ if environ is None else environ)
    workspace = workspace_path(flags.workspace)
    context = ConfigContext.from_environ(workspace=Path(workspace), environ=env)
    return load_config(context, profile=flags.profile, flags=flags.config_flags())


def make_plan(flags: SessionFlags, loaded: LoadedConfig,
              environ: Mapping[str, str] | None = None) -> SessionPlan:
    host = dict(os.environ if environ is None else environ)
    cfg = loaded.config
    workspace = _workspace(flags.workspace)
    if flags.slot is not None:
        check_slot(flags.slot)
    tool = get_tool(cfg.tool.name)
    network = apply_network_policy(cfg.network.mode)
    owner = ConfigContext.from_environ(environ=host).owner
    home_dir = loaded.home
    mounts = tuple(parse_mount(m, cwd=os.getcwd(), home=home_dir) for m in flags.mounts)
    if flags.storage:
        mounts += (storage_mount(flags.storage, storage_dir=loaded.expand(cfg.paths.storage_dir),
                                 cwd=os.getcwd(), home=home_dir,
                                 owner=_storage_owner(workspace, owner)),)
    home = container_home(cfg.incus.code_user)
    extra = session_env.parse_env_pairs(flags.env, host)
    return SessionPlan(
        workspace=workspace, tool=tool, binary=_binary(tool, cfg.tool.binary, host),
        image=cfg.defaults.image, persistent=cfg.defaults.persistent, slot=flags.slot,
        resume=flags.resume, profile=flags.profile,
        env=session_env.tool_env(home=home, user=cfg.incus.code_user,
                                 config_env=cfg.defaults.environment,
                                 forward=cfg.defaults.forward_env, host=host, extra=extra),
        mounts=mounts, network=network, bypass=cfg.tool.permission_mode == "bypass",
        debug=flags.debug, code_uid=cfg.incus.code_uid, code_user=cfg.incus.code_user,
        remote=cfg.incus.remote, project=project_of(loaded), prefix=container_prefix(host),
        coi_home=home_dir / ".coi", host_home=home_dir, owner=owner,
        logs_dir=loaded.expand(cfg.paths.logs_dir),
        save_interval=_save_interval(cfg.session.save_interval_minutes, host),
        shutdown_timeout=cfg.session.shutdown_timeout_sec, flags=flags,
    )


def with_tool(plan: SessionPlan, name: str,
              environ: Mapping[str, str] | None = None) -> SessionPlan:
    """The plan for another tool (resuming a session of that tool): its own binary."""
    tool = get_tool(name)
    host = os.environ if environ is None else environ
    return replace(plan, tool=tool, binary=_binary(tool, "", host))


def project_of(loaded: LoadedConfig) -> str | None:
    """The configured project, or None to use the remote's own (as the incus CLI)."""
    origin = loaded.origin("incus.project")
    return None if origin is None or origin.kind == "default" else loaded.config.incus.project


def _workspace(raw: str) -> str:
    workspace = workspace_path(raw)
    if not os.path.isdir(workspace):
        raise UsageError(f"workspace {workspace} is not a directory",
                         hint="give an existing directory with -w PATH")
    if workspace == "/":
        raise UsageError("the host's root directory cannot be a workspace")
    return workspace


def _binary(tool: Tool, override: str, host: Mapping[str, str]) -> str:
    """`[tool] binary`, else the tool's own; COI_USE_DUMMY=1 swaps in `dummy` (tests)."""
    if host.get("COI_USE_DUMMY", "") not in ("", "0"):
        return "dummy"
    return override or tool.binary


def _save_interval(minutes: int, host: Mapping[str, str]) -> float:
    raw = host.get(SAVE_INTERVAL_ENV, "")
    if raw:
        try:
            return max(0.0, float(raw))
        except ValueError:
            raise UsageError(f"{SAVE_INTERVAL_ENV} must be a number of seconds") from None
    return minutes * 60.0


def _storage_owner(workspace: str, owner: Owner | None) -> Owner | None:
    """The workspace owner gets a new storage dir (the code user is them, inside)."""
    if os.geteuid() != 0:
        return owner
    info = os.stat(workspace)
    return (info.st_uid, info.st_gid)
