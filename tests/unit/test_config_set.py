"""`coi config set` core: typed values, comments kept, whole file validated, atomic."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest

from coi.config import ConfigContext, load_config
from coi.config.edit import atomic_write, set_value
from coi.errors import ConfigError

COMMENTED = """\
# my coi settings
[defaults]
image = "coi"   # the usual image

[network]
# keep it tight
mode = "restricted"
"""


@pytest.fixture
def ctx(tmp_path: Path) -> ConfigContext:
    (tmp_path / "work").mkdir()
    return ConfigContext(env={}, home=tmp_path / "home", cwd=tmp_path / "work",
                         system_file=tmp_path / "etc" / "config.toml")


def user_toml(ctx: ConfigContext) -> dict[str, object]:
    return tomllib.loads(ctx.user_config.read_text())


def test_creates_file_and_dirs_and_parses_a_list(ctx: ConfigContext) -> None:
    change = set_value(ctx, "network.allowlist", "registry-1.docker.io, auth.docker.io")
    assert change.created and change.old is None
    assert change.new == ["registry-1.docker.io", "auth.docker.io"]
    assert user_toml(ctx) == {"network": {"allowlist": ["registry-1.docker.io",
                                                        "auth.docker.io"]}}
    assert load_config(ctx).config.network.allowlist == ("registry-1.docker.io",
                                                         "auth.docker.io")


@pytest.mark.parametrize(("key", "text", "value"), [
    ("defaults.persistent", "true", True),
    ("monitoring.enabled", "off", False),
    ("incus.code_uid", "1001", 1001),
    ("monitoring.file_read_threshold_mb", "75", 75.0),
    ("network.mode", "open", "open"),
    ("network.allowlist", "", []),
    ("network.allowlist", '["a.com", "b.org"]', ["a.com", "b.org"]),
    ("limits.memory", "2GiB", "2GiB"),
])
def test_value_is_stored_with_the_keys_type(ctx: ConfigContext, key: str, text: str,
                                            value: object) -> None:
    set_value(ctx, key, text)
    section, name = key.split(".")
    stored = user_toml(ctx)[section][name]  # type: ignore[index]
    assert stored == value and type(stored) is type(value)


def test_keeps_comments_and_layout(ctx: ConfigContext) -> None:
    ctx.user_config.parent.mkdir(parents=True)
    ctx.user_config.write_text(COMMENTED)
    change = set_value(ctx, "network.mode", "allowlist")
    assert (change.old, change.new, change.created) == ("restricted", "allowlist", False)
    assert ctx.user_config.read_text() == COMMENTED.replace('"restricted"', '"allowlist"')


def test_adds_nested_tables_without_empty_headers(ctx: ConfigContext) -> None:
    set_value(ctx, "profiles.rust.image", "coi-rust")
    set_value(ctx, "monitoring.nft.enabled", "false")
    set_value(ctx, "defaults.environment.RUST_BACKTRACE", "1")
    text = ctx.user_config.read_text()
    assert "[profiles]" not in text and "[monitoring]" not in text
    assert user_toml(ctx) == {"profiles": {"rust": {"image": "coi-rust"}},
                              "monitoring": {"nft": {"enabled": False}},
                              "defaults": {"environment": {"RUST_BACKTRACE": "1"}}}
    assert load_config(ctx, profile="rust").config.defaults.image == "coi-rust"


def test_project_flag_edits_the_project_file(ctx: ConfigContext) -> None:
    change = set_value(ctx, "network.mode", "open", project=True)
    assert change.path == ctx.cwd / ".coi.toml"
    assert not ctx.user_config.exists()


def test_setting_the_new_name_drops_the_old_spelling(ctx: ConfigContext) -> None:
    ctx.user_config.parent.mkdir(parents=True)
    ctx.user_config.write_text('[network]\nallowed_domains = ["old.org"]\n')
    change = set_value(ctx, "network.allowlist", "new.org")
    assert change.old is None  # the file held it under its old name only
    assert user_toml(ctx) == {"network": {"allowlist": ["new.org"]}}


@pytest.mark.parametrize(("key", "text", "message"), [
    ("network.mode", "opne", 'network.mode: expected one of restricted, allowlist, open, '
                             'got "opne"'),
    ("network.mdoe", "open", r"network.mdoe: unknown key \(did you mean network.mode\?\)"),
    ("incus.code_uid", "abc", 'incus.code_uid: expected an integer, got "abc"'),
    ("defaults.persistent", "maybe", "defaults.persistent: expected a boolean"),
    ("network", "open", "network: is a table; set one of its keys, e.g. network.mode"),
    ("defaults.environment", "A=1", "set one of its keys, e.g. defaults.environment.NAME"),
    ("profiles.bad name.image", "x", "profiles.bad name: expected the name to be a profile"),
])
def test_bad_values_are_refused_and_nothing_is_written(ctx: ConfigContext, key: str, text: str,
                                                       message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        set_value(ctx, key, text)
    assert not ctx.user_config.exists()


def test_a_file_that_is_already_invalid_is_not_rewritten(ctx: ConfigContext) -> None:
    ctx.user_config.parent.mkdir(parents=True)
    ctx.user_config.write_text("[network]\nmdoe = 'open'\n")
    with pytest.raises(ConfigError, match=r"config.toml: network.mdoe: unknown key"):
        set_value(ctx, "network.mode", "open")
    assert ctx.user_config.read_text() == "[network]\nmdoe = 'open'\n"


def test_broken_toml_names_line_and_column(ctx: ConfigContext) -> None:
    ctx.user_config.parent.mkdir(parents=True)
    ctx.user_config.write_text('[defaults]\nimage = \n')
    with pytest.raises(ConfigError, match=r"config.toml: invalid TOML at line 2, column \d+"):
        set_value(ctx, "defaults.image", "x")


def test_atomic_write_keeps_mode_and_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "conf" / "config.toml"
    atomic_write(target, "a = 1\n")
    assert oct(target.stat().st_mode & 0o777) == oct(0o644)
    target.chmod(0o600)
    atomic_write(target, "a = 2\n")
    assert target.read_text() == "a = 2\n"
    assert oct(target.stat().st_mode & 0o777) == oct(0o600)
    assert os.listdir(target.parent) == ["config.toml"]


def test_atomic_write_failure_leaves_the_old_file_and_no_temp(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    target = tmp_path / "config.toml"
    target.write_text("old\n")

    def fail(src: str, dst: str) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(ConfigError, match="cannot write: Input/output error"):
        atomic_write(target, "new\n")
    assert target.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["config.toml"]


def test_atomic_write_through_a_symlink_keeps_the_link(tmp_path: Path) -> None:
    real = tmp_path / "dotfiles" / "coi.toml"
    real.parent.mkdir()
    real.write_text("a = 1\n")
    link = tmp_path / "config.toml"
    link.symlink_to(real)
    atomic_write(link, "a = 2\n")
    assert link.is_symlink() and real.read_text() == "a = 2\n"


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")
def test_under_sudo_new_dirs_and_file_belong_to_the_invoking_user(tmp_path: Path) -> None:
    target = tmp_path / "home" / ".config" / "coi" / "config.toml"
    (tmp_path / "home").mkdir()
    atomic_write(target, "a = 1\n", owner=(4321, 4322))
    for path in (target, target.parent, target.parent.parent):
        assert (path.stat().st_uid, path.stat().st_gid) == (4321, 4322)
    assert (tmp_path / "home").stat().st_uid == os.geteuid()  # existed already: untouched
