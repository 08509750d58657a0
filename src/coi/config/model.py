"""The typed configuration: one frozen msgspec Struct per TOML section.

Field defaults are coi's built-in defaults (the lowest config layer). Field order is the
order `coi config show` prints. Empty strings and zeros mean "not set / no limit", since
TOML has no null. `docs/configuration.md` documents every field; a test keeps it in step.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from coi.config import checks

NetworkMode = Literal["restricted", "allowlist", "open"]
ToolName = Literal["claude", "opencode", "aider", "codex", "dummy"]
PermissionMode = Literal["bypass", "interactive"]
OneLinerSeverity = Literal["critical", "warn", "off"]

NonEmpty = Annotated[str, checks.NON_EMPTY]
EnvName = Annotated[str, checks.ENV_NAME]
RelativePath = Annotated[str, checks.RELATIVE_PATH]
Destination = Annotated[str, checks.DESTINATION]
Count = Annotated[int, checks.at_least(0)]
Interval = Annotated[int, checks.at_least(1)]
Positive = Annotated[float, checks.POSITIVE]

DEFAULT_PROTECTED_PATHS: tuple[str, ...] = (
    ".git/hooks",
    ".git/config",
    ".husky",
    ".vscode",
    ".coi.toml",
    ".claude/settings.json",
    ".claude/settings.local.json",
    ".codex/config.toml",
)

DEFAULT_ALLOWLIST: tuple[str, ...] = (
    "registry.npmjs.org",
    "npm.pkg.github.com",
    "api.anthropic.com",
    "platform.claude.com",
)


class Section(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base of every section: unknown fields are errors. (Subclasses repeat frozen=True
    because mypy does not see it inherited.)"""


class Defaults(Section, frozen=True):
    image: NonEmpty = "coi"
    persistent: bool = False
    mount_claude_config: bool = True
    environment: dict[EnvName, str] = {}
    forward_env: tuple[EnvName, ...] = ()


class Tool(Section, frozen=True):
    name: ToolName = "claude"
    binary: str = ""
    permission_mode: PermissionMode = "bypass"


class Paths(Section, frozen=True):
    # Kept as written ("~/..."); LoadedConfig.expand() resolves them for the right user.
    sessions_dir: NonEmpty = "~/.coi/sessions"
    storage_dir: NonEmpty = "~/.coi/storage"
    logs_dir: NonEmpty = "~/.coi/logs"


class Incus(Section, frozen=True):
    project: NonEmpty = "default"
    group: NonEmpty = "incus-admin"
    code_uid: Count = 1000
    code_user: NonEmpty = "code"
    remote: str = ""


class Network(Section, frozen=True):
    mode: NetworkMode = "restricted"
    allowlist: tuple[Destination, ...] = DEFAULT_ALLOWLIST
    refresh_interval_minutes: Interval = 30
    block_private_networks: bool = True
    block_metadata_endpoint: bool = True
    allow_local_network_access: bool = False
    proxy: Annotated[str, checks.PROXY_URL] = ""


class NftMonitoring(Section, frozen=True):
    enabled: bool = True
    rate_limit_per_second: Interval = 100
    dns_query_threshold: Interval = 100
    log_dns_queries: bool = True
    lima_host: str = ""


class Monitoring(Section, frozen=True):
    enabled: bool = True
    auto_pause_on_high: bool = True
    auto_kill_on_critical: bool = True
    poll_interval_sec: Positive = 0.5
    file_read_threshold_mb: Positive = 50.0
    file_read_rate_mb_per_sec: Positive = 10.0
    audit_log_retention_days: Count = 30
    process_count_threshold: Interval = 500
    process_spawn_rate_per_sec: Interval = 50
    reverse_shell_one_liners: OneLinerSeverity = "critical"
    nft: NftMonitoring = NftMonitoring()


class Security(Section, frozen=True):
    protected_paths: tuple[RelativePath, ...] = DEFAULT_PROTECTED_PATHS
    additional_protected_paths: tuple[RelativePath, ...] = ()
    secret_paths: tuple[RelativePath, ...] = ()
    disable_protection: bool = False


class Git(Section, frozen=True):
    writable_hooks: bool = False


class Limits(Section, frozen=True):
    cpu: Annotated[str, checks.CPU] = ""
    cpu_allowance: Annotated[str, checks.CPU_ALLOWANCE] = ""
    memory: Annotated[str, checks.MEMORY] = ""
    memory_swap: bool = True
    disk_read: Annotated[str, checks.DISK_RATE] = ""
    disk_write: Annotated[str, checks.DISK_RATE] = ""
    processes: Count = 0
    duration: Annotated[str, checks.DURATION] = ""


class Session(Section, frozen=True):
    save_interval_minutes: Count = 5
    shutdown_timeout_sec: Count = 60


class Config(Section, frozen=True):
    """The effective configuration. `profiles` keeps each overlay as validated TOML."""

    defaults: Defaults = Defaults()
    tool: Tool = Tool()
    paths: Paths = Paths()
    incus: Incus = Incus()
    network: Network = Network()
    monitoring: Monitoring = Monitoring()
    security: Security = Security()
    git: Git = Git()
    limits: Limits = Limits()
    session: Session = Session()
    profiles: dict[str, dict[str, Any]] = {}
