"""Every config error is one line naming the file (or variable), the key and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from coi.config import ConfigContext, load_config
from coi.errors import ConfigError


@pytest.fixture
def ctx(tmp_path: Path) -> ConfigContext:
    (tmp_path / "work").mkdir()
    return ConfigContext(env={}, home=tmp_path / "home", cwd=tmp_path / "work",
                         system_file=tmp_path / "etc" / "config.toml")


def error_for(ctx: ConfigContext, text: str, env: dict[str, str] | None = None) -> str:
    """The message loading fails with when the user config holds `text`."""
    path = ctx.user_config
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if env:
        ctx = ConfigContext(env=env, home=ctx.home, cwd=ctx.cwd, system_file=ctx.system_file)
    with pytest.raises(ConfigError) as err:
        load_config(ctx)
    message = str(err.value)
    assert "\n" not in message
    assert err.value.exit_code == 3
    return message


USER = "~/.config/coi/config.toml"


@pytest.mark.parametrize(("text", "message"), [
    ('[network]\nmode = "opne"\n',
     f'{USER}: network.mode: expected one of restricted, allowlist, open, got "opne"'),
    ('[network]\nmdoe = "open"\n',
     f"{USER}: network.mdoe: unknown key (did you mean network.mode?)"),
    ('[netwrk]\nmode = "open"\n', f"{USER}: netwrk: unknown key (did you mean network?)"),
    ("[defaults]\npersistent = 1\n",
     f"{USER}: defaults.persistent: expected a boolean (true or false), got 1"),
    ('[incus]\ncode_uid = "1000"\n', f'{USER}: incus.code_uid: expected an integer, got "1000"'),
    ("[incus]\ncode_uid = true\n", f"{USER}: incus.code_uid: expected an integer, got true"),
    ("[incus]\ncode_uid = -1\n", f"{USER}: incus.code_uid: expected an integer >= 0, got -1"),
    ('[network]\nallowlist = "a.com"\n',
     f'{USER}: network.allowlist: expected a list of strings, got "a.com"'),
    ("[network]\nallowlist = [1]\n",
     f"{USER}: network.allowlist: expected a list of strings, got 1 in the list"),
    ('[network]\nallowlist = ["*.evil.com"]\n',
     f"{USER}: network.allowlist: expected each item to be a hostname, IPv4 address or CIDR,"
     ' optionally with :port (no wildcards, no scheme), got "*.evil.com"'),
    ('network = "open"\n', f'{USER}: network: expected a table (a [network] section), got "open"'),
    ('[limits]\nmemory = "2"\n',
     f'{USER}: limits.memory: expected a size with a unit like "2GiB" or "512MB", '
     'a percentage like "50%", or "", got "2"'),
    ('[defaults.environment]\n"1BAD" = "x"\n',
     f'{USER}: defaults.environment.1BAD: expected the name to be an environment variable '
     'name like MY_VAR, got "1BAD"'),
    ("[defaults.environment]\nN = 1\n",
     f"{USER}: defaults.environment.N: expected a string, got 1"),
    ('[profiles.rust]\nimgae = "x"\n',
     f"{USER}: profiles.rust.imgae: unknown key (did you mean profiles.rust.image?)"),
    ('[profiles.rust.network]\nmode = "closed"\n',
     f'{USER}: profiles.rust.network.mode: expected one of restricted, allowlist, open, '
     'got "closed"'),
    ('[profiles.rust]\nimage = "a"\n[profiles.rust.defaults]\nimage = "b"\n',
     f"{USER}: profiles.rust.image: also set as profiles.rust.defaults.image; keep only one"),
    ('[profiles.rust.profiles.x]\nimage = "a"\n', f"{USER}: profiles.rust.profiles: unknown key"),
    ('[network]\nallowed_domains = []\nallowlist = []\n',
     f"{USER}: network.allowed_domains: also set as network.allowlist (its new name); "
     "keep only allowlist"),
    ("[monitoring]\nfile_read_threshold_mb = 0\n",
     f"{USER}: monitoring.file_read_threshold_mb: expected a number > 0, got 0"),
    ("[session]\nstarted = 1979-05-27\n", f"{USER}: session.started: unknown key"),
])
def test_file_errors(ctx: ConfigContext, text: str, message: str) -> None:
    assert error_for(ctx, text) == message


def test_broken_toml_names_file_line_and_column(ctx: ConfigContext) -> None:
    message = error_for(ctx, '[network]\nmode = "open"\nallowlist = [\n')
    assert message.startswith(f"{USER}: invalid TOML at ")
    message = error_for(ctx, '[defaults]\nimage = "a"\nimage = "b"\n')
    assert message == f"{USER}: invalid TOML at line 3, column 12: Cannot overwrite a value"


def test_invalid_utf8_is_reported(ctx: ConfigContext) -> None:
    path = ctx.user_config
    path.parent.mkdir(parents=True)
    path.write_bytes(b'[defaults]\nimage = "\xff"\n')
    with pytest.raises(ConfigError, match=r"config.toml: not valid UTF-8 \(byte 20\)"):
        load_config(ctx)


def test_env_errors_name_the_variable(ctx: ConfigContext) -> None:
    message = error_for(ctx, "", env={"COI_PERSISTENT": "maybe"})
    assert message == ('env COI_PERSISTENT: defaults.persistent: expected a boolean '
                       '(true/false, yes/no, on/off, 1/0), got "maybe"')
    assert error_for(ctx, "", env={"COI_TOOL": "vim"}).startswith(
        "env COI_TOOL: tool.name: expected one of claude, opencode")


def test_flag_errors_name_the_command_line(ctx: ConfigContext) -> None:
    with pytest.raises(ConfigError, match=r"command line: limits\.duration: expected a duration"):
        load_config(ctx, flags={"limits.duration": "forever"})
    with pytest.raises(ConfigError, match=r"command line: limits\.cpus: unknown key "
                                          r"\(did you mean limits\.cpu\?\)"):
        load_config(ctx, flags={"limits.cpus": "2"})


def test_error_in_the_project_file_names_it(ctx: ConfigContext) -> None:
    (ctx.cwd / ".coi.toml").write_text("[git]\nwritable_hooks = 'yes'\n")
    with pytest.raises(ConfigError) as err:
        load_config(ctx)
    assert str(err.value) == (f"{ctx.cwd}/.coi.toml: git.writable_hooks: "
                              'expected a boolean (true or false), got "yes"')


def test_unreadable_path_is_a_config_error(ctx: ConfigContext) -> None:
    ctx.user_config.mkdir(parents=True)  # a directory where the file should be
    with pytest.raises(ConfigError, match=r"config\.toml: is a directory"):
        load_config(ctx)
