"""From flags and config to one checked SessionPlan: what `coi shell` and `coi run` do.

Everything that can be refused without the daemon is refused here, before a container
exists: an unknown tool, a bad allowlist, a limit the host cannot enforce, a workspace or
mount that would expose host secrets, a bad --env. Values from an untrusted project file
(`./.coi.toml` not pinned with `coi trust`) that would weaken security are dropped here,
with a warning in `SessionPlan.warnings`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from coi.config import ConfigContext, LoadedConfig, load_config
from coi.config.model import Config
from coi.errors import UsageError
from coi.network.policy import LogSpec, NetworkPolicy
from coi.session import env as session_env
from coi.session.mounts import extra_mounts, parse_mount, storage_source
from coi.session.paths import container_home

__all__ = ["SessionFlags", "SessionPlan", "container_home", "load", "make_plan", "project_of",
           "with_tool"]
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
    writable_git_hooks: bool = False
    limits: tuple[tuple[str, object], ...] = ()  # (`[limits]` key, value) given as flags

    def config_flags(self) -> dict[str, object]:
        return {"defaults.image": self.image, "network.mode": self.network,
                "tool.name": self.tool, "defaults.persistent": self.persistent,
                **{f"limits.{key}": value for key, value in self.limits}}


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
    mounts: dict[str, dict[str, str]]  # extra mounts and storage, as disk devices
    config: Config  # the effective config (untrusted weakening values dropped)
    network_policy: NetworkPolicy
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
    warnings: tuple[str, ...] = ()

    @property
    def home(self) -> str:
        return container_home(self.code_user)

    @property
    def security(self) -> dict[str, str]:
        from coi.security.credentials import instance_config

        return instance_config()

    @property
    def duration(self) -> int | None:
        """`--limit-duration` in seconds (None: no limit)."""
        from coi.limits import parse_duration

        return parse_duration(self.config.limits.duration)


def load(flags: SessionFlags, environ: Mapping[str, str] | None = None) -> LoadedConfig:
    env = dict(os.environ if environ is None else environ)
    workspace = workspace_path(flags.workspace)
    context = ConfigContext.from_environ(workspace=Path(workspace), environ=env)
    return load_config(context, profile=flags.profile, flags=flags.config_flags())


def make_plan(flags: SessionFlags, loaded: LoadedConfig,
               environ: Mapping[str, str] | None = None) -> SessionPlan:
    host = dict(os.environ if environ is None else environ)
    coi_home = loaded.home / ".coi"
    cfg, warnings = _sanitised(flags, loaded, host, coi_home)
    workspace = _workspace(flags.workspace, loaded.home, coi_home)
    if flags.slot is not None:
        check_slot(flags.slot)
    tool = get_tool(cfg.tool.name)
    _check_limits(cfg)
    policy = NetworkPolicy.from_config(cfg.network, tool.api_domains,
                                       log=LogSpec.from_config(cfg.monitoring))
    owner = ConfigContext.from_environ(environ=host).owner
    home = container_home(cfg.incus.code_user)
    return SessionPlan(
        workspace=workspace, tool=tool, binary=_binary(tool, cfg.tool.binary, host),
        image=cfg.defaults.image, persistent=cfg.defaults.persistent, slot=flags.slot,
        resume=flags.resume, profile=flags.profile,
        env=_environment(flags, cfg, host, home), config=cfg, network_policy=policy,
        mounts=_mounts(flags, loaded, cfg, workspace, owner),
        bypass=cfg.tool.permission_mode == "bypass",
        debug=flags.debug, code_uid=cfg.incus.code_uid, code_user=cfg.incus.code_user,
        remote=cfg.incus.remote, project=project_of(loaded), prefix=container_prefix(host),
        coi_home=coi_home, host_home=loaded.home, owner=owner,
        logs_dir=loaded.expand(cfg.paths.logs_dir),
        save_interval=_save_interval(cfg.session.save_interval_minutes, host),
        shutdown_timeout=cfg.session.shutdown_timeout_sec, flags=flags,
        warnings=tuple(warnings),
    )


def _sanitised(flags: SessionFlags, loaded: LoadedConfig, host: Mapping[str, str],
               coi_home: Path) -> tuple[Config, list[str]]:
    """The config minus what an untrusted project file may not weaken."""
    from coi.security import untrusted

    if not loaded.untrusted_keys():
        return loaded.config, []
    context = ConfigContext.from_environ(workspace=Path(workspace_path(flags.workspace)),
                                         environ=dict(host))
    base = untrusted.baseline(context, profile=flags.profile, flags=flags.config_flags())
    result = untrusted.sanitise(loaded, base, coi_home)
    return result.config, result.warnings()


def _check_limits(cfg: Config) -> None:
    from coi import limits

    limits.validate(cfg.limits, limits.enforceable_limits())


def _environment(flags: SessionFlags, cfg: Config, host: Mapping[str, str],
                 home: str) -> dict[str, str]:
    from coi.security.credentials import container_env

    user = cfg.incus.code_user
    return container_env(host, forward=cfg.defaults.forward_env,
                         static=cfg.defaults.environment,
                         explicit=session_env.parse_env_pairs(flags.env, host),
                         tool={"HOME": home, "USER": user, "LOGNAME": user,
                               "IS_SANDBOX": "1"})


def _mounts(flags: SessionFlags, loaded: LoadedConfig, cfg: Config, workspace: str,
            owner: Owner | None) -> dict[str, dict[str, str]]:
    from coi.security import paths

    if not flags.mounts and flags.storage is None:
        return {}
    cwd = os.getcwd()
    storage_dir = loaded.expand(cfg.paths.storage_dir)
    storage = None if flags.storage is None else storage_source(
        flags.storage, storage_dir=storage_dir, cwd=cwd,
        owner=_storage_owner(workspace, owner))
    protected = ([p.rstrip("/") for p in paths.configured_paths(cfg)]
                 if paths.protection_enabled(cfg, flags.writable_git_hooks) else [])
    return extra_mounts([parse_mount(m, cwd=cwd) for m in flags.mounts], storage,
                        home=loaded.home, coi_home=loaded.home / ".coi", workspace=workspace,
                        protected=protected, storage_dir=storage_dir)


def with_tool(plan: SessionPlan, name: str,
              environ: Mapping[str, str] | None = None) -> SessionPlan:
    """The plan for another tool (resuming a session of that tool): its own binary."""
    tool = get_tool(name)
    host = os.environ if environ is None else environ
    return replace(plan, tool=tool, binary=_binary(tool, "", host),
                   network_policy=NetworkPolicy.from_config(
                       plan.config.network, tool.api_domains,
                       log=LogSpec.from_config(plan.config.monitoring)))


def project_of(loaded: LoadedConfig) -> str | None:
    """The configured project, or None to use the remote's own (as the incus CLI)."""
    origin = loaded.origin("incus.project")
    return None if origin is None or origin.kind == "default" else loaded.config.incus.project


def _workspace(raw: str, home: Path, coi_home: Path) -> str:
    from coi.security.mounts import check_workspace

    workspace = workspace_path(raw)
    if not os.path.isdir(workspace):
        raise UsageError(f"workspace {workspace} is not a directory",
                         hint="give an existing directory with -w PATH")
    check_workspace(workspace, home, coi_home)
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
