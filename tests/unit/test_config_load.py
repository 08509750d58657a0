"""Layered loading: precedence of every layer, origins, env vars, profiles, sudo."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from coi.config import ConfigContext, load_config
from coi.config.context import invoking_home, sudo_owner
from coi.config.origin import Origin
from coi.errors import ConfigError


class Host:
    """A fake host: its own /etc, home, workspace and environment under tmp_path."""

    def __init__(self, root: Path) -> None:
        self.home = root / "home"
        self.cwd = root / "work"
        self.system = root / "etc" / "config.toml"
        self.user = self.home / ".config" / "coi" / "config.toml"
        self.project = self.cwd / ".coi.toml"
        self.env: dict[str, str] = {}
        self.cwd.mkdir(parents=True)

    def write(self, path: Path, text: str) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def context(self) -> ConfigContext:
        return ConfigContext(env=self.env, home=self.home, cwd=self.cwd,
                             system_file=self.system)


@pytest.fixture
def host(tmp_path: Path) -> Host:
    return Host(tmp_path)


def test_defaults_when_no_file_exists(host: Host) -> None:
    loaded = load_config(host.context())
    assert loaded.config.defaults.image == "coi"
    assert loaded.config.network.mode == "restricted"
    assert loaded.config.monitoring.enabled is True
    assert loaded.config.session.save_interval_minutes == 5
    assert loaded.origin("network.mode") == Origin("default")
    assert [f.exists for f in loaded.files] == [False, False, False]


def test_each_layer_overrides_the_one_below(host: Host) -> None:
    host.write(host.system, '[defaults]\nimage = "sys"\n[tool]\nname = "aider"\n'
               '[incus]\nproject = "p-sys"\n[network]\nmode = "open"\n')
    host.write(host.user, '[defaults]\nimage = "user"\n[tool]\nname = "codex"\n'
               '[incus]\nproject = "p-user"\n')
    host.write(host.project, '[defaults]\nimage = "project"\n[tool]\nname = "opencode"\n')
    explicit = host.write(host.cwd / "extra.toml", '[defaults]\nimage = "explicit"\n')
    host.env["COI_CONFIG"] = "extra.toml"  # relative to the workspace
    loaded = load_config(host.context())
    assert loaded.config.defaults.image == "explicit"
    assert loaded.config.tool.name == "opencode"
    assert loaded.config.incus.project == "p-user"
    assert loaded.config.network.mode == "open"
    assert loaded.origin("defaults.image") == Origin("explicit", str(explicit))
    assert loaded.origin("tool.name") == Origin("project", str(host.project))
    assert loaded.origin("incus.project") == Origin("user", str(host.user))
    assert loaded.origin("network.mode") == Origin("system", str(host.system))


def test_env_beats_files_profile_beats_env_flags_beat_all(host: Host) -> None:
    host.write(host.user, '[defaults]\nimage = "user"\npersistent = false\n'
               '[profiles.rust]\nimage = "coi-rust"\n')
    host.env.update(COI_IMAGE="env-image", COI_PERSISTENT="yes", COI_NETWORK="allowlist")
    loaded = load_config(host.context(), profile="rust", flags={"network.mode": "open"})
    assert loaded.config.defaults.image == "coi-rust"
    assert loaded.config.defaults.persistent is True
    assert loaded.config.network.mode == "open"
    assert loaded.origin("defaults.persistent") == Origin("env", "COI_PERSISTENT")
    assert loaded.origin("network.mode") == Origin("flag")
    assert loaded.origin("defaults.image") == Origin(
        "profile", "rust", via=Origin("user", str(host.user)))


def test_an_omitted_bool_keeps_the_earlier_value(host: Host) -> None:
    host.write(host.system, "[defaults]\npersistent = true\n"
               "[network]\nallow_local_network_access = true\n")
    host.write(host.user, '[defaults]\nimage = "mine"\n[network]\nmode = "open"\n')
    loaded = load_config(host.context())
    assert loaded.config.defaults.persistent is True
    assert loaded.config.network.allow_local_network_access is True
    assert loaded.config.network.block_private_networks is True


def test_tables_merge_deeply_and_lists_replace(host: Host) -> None:
    host.write(host.system, '[defaults.environment]\nA = "1"\nB = "sys"\n'
               '[security]\nadditional_protected_paths = [".idea"]\n')
    host.write(host.user, '[defaults]\nenvironment = { B = "user", C = "3" }\n'
               '[security]\nadditional_protected_paths = ["Makefile"]\n')
    loaded = load_config(host.context(), flags={"defaults.environment.D": "4"})
    assert loaded.config.defaults.environment == {"A": "1", "B": "user", "C": "3", "D": "4"}
    assert loaded.config.security.additional_protected_paths == ("Makefile",)
    assert loaded.config.security.protected_paths[0] == ".git/hooks"
    assert loaded.origin("defaults.environment.A") == Origin("system", str(host.system))
    assert loaded.origin("defaults.environment.B") == Origin("user", str(host.user))


def test_flags_skip_none_and_parse_strings(host: Host) -> None:
    loaded = load_config(host.context(), flags={
        "defaults.image": None, "network.allowlist": "a.com, b.org",
        "limits.processes": "200", "defaults.persistent": True})
    assert loaded.config.defaults.image == "coi"
    assert loaded.config.network.allowlist == ("a.com", "b.org")
    assert loaded.config.limits.processes == 200
    assert loaded.config.defaults.persistent is True


def test_every_env_var_sets_its_key(host: Host) -> None:
    from coi.config import ENV_VARS

    samples = {"defaults.persistent": "true", "tool.name": "aider",
               "network.mode": "open"}
    for var in ENV_VARS:
        host.env[var.name] = samples.get(var.key, f"value-of-{var.name.lower()}")
    loaded = load_config(host.context())
    for var in ENV_VARS:
        assert loaded.origin(var.key) == Origin("env", var.name)
        expected = samples.get(var.key, f"value-of-{var.name.lower()}")
        assert str(loaded.value(var.key)).lower() == expected


def test_an_empty_env_var_counts_as_unset(host: Host) -> None:
    host.env["COI_IMAGE"] = ""
    assert load_config(host.context()).config.defaults.image == "coi"


def test_profile_overlays_sections_and_shorthands(host: Host) -> None:
    host.write(host.user, '[defaults.environment]\nKEEP = "1"\n'
               '[profiles.rust]\nimage = "coi-rust"\npersistent = true\n'
               'environment = { RUST_BACKTRACE = "1" }\n'
               '[profiles.rust.network]\nmode = "open"\n'
               '[profiles.rust.limits]\nmemory = "4GiB"\n')
    host.write(host.project, '[profiles.rust.limits]\ncpu = "2"\n')
    loaded = load_config(host.context(), profile="rust")
    cfg = loaded.config
    assert (cfg.defaults.image, cfg.defaults.persistent) == ("coi-rust", True)
    assert cfg.defaults.environment == {"KEEP": "1", "RUST_BACKTRACE": "1"}
    assert (cfg.network.mode, cfg.limits.memory, cfg.limits.cpu) == ("open", "4GiB", "2")
    assert loaded.profile == "rust"
    # limits.cpu came through the profile from .coi.toml, and so did its definition.
    assert set(loaded.untrusted_keys()) == {"limits.cpu", "profiles.rust.limits.cpu"}
    assert not loaded.origin("limits.memory").untrusted  # type: ignore[union-attr]


def test_without_profile_the_overlay_is_not_applied(host: Host) -> None:
    host.write(host.user, '[profiles.web]\nimage = "coi-web"\n')
    loaded = load_config(host.context())
    assert loaded.config.defaults.image == "coi"
    assert loaded.config.profiles == {"web": {"image": "coi-web"}}


def test_unknown_profile_lists_the_known_ones(host: Host) -> None:
    host.write(host.user, '[profiles.web]\nimage = "w"\n[profiles.rust]\nimage = "r"\n')
    with pytest.raises(ConfigError) as err:
        load_config(host.context(), profile="rsut")
    assert str(err.value) == 'unknown profile "rsut" (known profiles: rust, web)'


def test_unknown_profile_with_none_defined_says_how_to_add_one(host: Host) -> None:
    with pytest.raises(ConfigError, match=r"no profiles are defined; add a \[profiles.x\]"):
        load_config(host.context(), profile="x")


def test_project_values_are_marked_untrusted(host: Host) -> None:
    host.write(host.user, '[network]\nmode = "allowlist"\n')
    host.write(host.project, '[network]\nmode = "open"\n')
    loaded = load_config(host.context())
    assert loaded.untrusted_keys() == ["network.mode"]
    assert loaded.origin("network.mode").kind == "project"  # type: ignore[union-attr]


def test_old_key_names_are_accepted(host: Host) -> None:
    host.write(host.user, '[network]\nallowed_domains = ["x.org"]\n[incus]\nclaude_uid = 1001\n')
    loaded = load_config(host.context())
    assert loaded.config.network.allowlist == ("x.org",)
    assert loaded.config.incus.code_uid == 1001
    assert loaded.value("network.allowed_domains") == ["x.org"]


def test_missing_coi_config_file_is_an_error(host: Host) -> None:
    host.env["COI_CONFIG"] = str(host.cwd / "nope.toml")
    with pytest.raises(ConfigError, match=r"nope\.toml: no such file"):
        load_config(host.context())


def test_value_of_unknown_and_unset_keys(host: Host) -> None:
    loaded = load_config(host.context())
    with pytest.raises(ConfigError) as err:
        loaded.value("network.mdoe")
    assert str(err.value) == "network.mdoe: unknown key (did you mean network.mode?)"
    with pytest.raises(ConfigError, match=r"defaults\.environment\.FOO: not set"):
        loaded.value("defaults.environment.FOO")
    assert loaded.value("network")["mode"] == "restricted"


def test_paths_expand_against_the_invoking_home(host: Host) -> None:
    loaded = load_config(host.context())
    assert loaded.expand(loaded.config.paths.sessions_dir) == host.home / ".coi/sessions"
    assert loaded.expand("/abs") == Path("/abs")


def _pw(home: str) -> SimpleNamespace:
    return SimpleNamespace(pw_dir=home)


def test_sudo_uses_the_invoking_users_home() -> None:
    env = {"SUDO_USER": "alice", "HOME": "/root"}
    homes = {"alice": _pw("/home/alice")}
    assert invoking_home(env, 0, homes.__getitem__) == Path("/home/alice")
    assert invoking_home(env, 1000, homes.__getitem__) == Path("/root")  # not root: no sudo
    assert invoking_home({"SUDO_USER": "ghost", "HOME": "/root"}, 0,
                         homes.__getitem__) == Path("/root")


def test_sudo_owner_only_when_root_through_sudo() -> None:
    env = {"SUDO_UID": "1000", "SUDO_GID": "1001"}
    assert sudo_owner(env, 0) == (1000, 1001)
    assert sudo_owner(env, 1000) is None
    assert sudo_owner({}, 0) is None
    assert sudo_owner({"SUDO_UID": "0", "SUDO_GID": "0"}, 0) is None


def test_from_environ_reads_user_file_of_sudo_user(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    alice = tmp_path / "alice"
    monkeypatch.setattr("coi.config.context.os.geteuid", lambda: 0)
    monkeypatch.setattr("coi.config.context.pwd.getpwnam",
                        lambda name: _pw(str(alice)) if name == "alice" else None)
    ctx = ConfigContext.from_environ(tmp_path, {"SUDO_USER": "alice", "HOME": "/root"})
    assert ctx.user_config == alice / ".config/coi/config.toml"
    assert ctx.project_config == tmp_path / ".coi.toml"
