"""Untrusted ./.coi.toml: weakening values dropped until `coi trust` pins the file."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from coi.cli.main import cli
from coi.config import ConfigContext, load_config
from coi.errors import NotFound, UsageError
from coi.security import trust, untrusted


class Host:
    def __init__(self, root: Path) -> None:
        self.home, self.cwd = root / "home", root / "work"
        self.cwd.mkdir(parents=True)
        self.coi_home = self.home / ".coi"

    def write(self, rel: str, text: str) -> Path:
        path = self.home / rel if rel.startswith(".config") else self.cwd / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def context(self) -> ConfigContext:
        return ConfigContext(env={}, home=self.home, cwd=self.cwd,
                             system_file=self.home / "none.toml")

    def sanitise(self) -> untrusted.Sanitised:
        ctx = self.context()
        return untrusted.sanitise(load_config(ctx), untrusted.baseline(ctx), self.coi_home)


@pytest.fixture
def host(tmp_path: Path) -> Host:
    return Host(tmp_path)


WEAK = """
[network]
mode = "open"
allowlist = ["evil.example"]
block_metadata_endpoint = false
[security]
disable_protection = true
protected_paths = [".git/hooks"]
[git]
writable_hooks = true
[defaults]
forward_env = ["GH_TOKEN"]
image = "mine"
[incus]
remote = "elsewhere"
[limits]
processes = 100
"""


def test_weakening_values_are_dropped_and_named(host: Host) -> None:
    host.write(".coi.toml", WEAK)
    result = host.sanitise()
    assert result.dropped == [
        "defaults.forward_env", "git.writable_hooks", "incus.remote", "network.allowlist",
        "network.block_metadata_endpoint", "network.mode", "security.disable_protection",
        "security.protected_paths", "security.additional_protected_paths"]
    config = result.config
    assert config.network.mode == "restricted" and not config.security.disable_protection
    assert ".git/config" in config.security.protected_paths
    assert config.defaults.image == "mine" and config.limits.processes == 100  # not weaker
    assert "coi trust" in result.warnings()[0]


def test_stricter_values_are_kept(host: Host) -> None:
    host.write(".config/coi/config.toml", '[network]\nmode = "open"\n[limits]\nmemory = "4GiB"\n')
    host.write(".coi.toml", '[network]\nmode = "allowlist"\n[security]\n'
                            'additional_protected_paths = ["Makefile"]\n'
                            '[limits]\nmemory = "8GiB"\n')
    result = host.sanitise()
    assert result.config.network.mode == "allowlist"
    assert result.config.security.additional_protected_paths == ("Makefile",)
    assert result.dropped == ["limits.memory"] and result.config.limits.memory == "4GiB"


def test_a_pinned_file_is_trusted_until_it_changes(host: Host) -> None:
    path = host.write(".coi.toml", WEAK)
    trust.pin(host.coi_home, path)
    assert host.sanitise().trusted and host.sanitise().config.network.mode == "open"
    path.write_text(WEAK + "\n# edited by the agent\n")
    assert host.sanitise().config.network.mode == "restricted"


def test_revoke(host: Host) -> None:
    path = host.write(".coi.toml", WEAK)
    trust.pin(host.coi_home, path)
    trust.revoke(host.coi_home, path)
    assert not trust.is_trusted(host.coi_home, path)
    with pytest.raises(NotFound):
        trust.revoke(host.coi_home, path)


def test_trust_command_shows_what_it_allows_then_pins(host: Host,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    path = host.write(".coi.toml", WEAK)
    monkeypatch.setenv("HOME", str(host.home))
    monkeypatch.chdir(host.cwd)
    runner = CliRunner()
    refused = runner.invoke(cli, ["trust"], input="n\n")
    assert "network.mode" in refused.output and isinstance(refused.exception, UsageError)
    assert not trust.is_trusted(host.coi_home, path)
    done = runner.invoke(cli, ["trust", str(path)], input="y\n")
    assert done.exit_code == 0 and trust.is_trusted(host.coi_home, path)
    listed = runner.invoke(cli, ["trust", "--list"])
    assert str(path) in listed.output and "ok" in listed.output
    assert runner.invoke(cli, ["trust", "--revoke", str(path)]).exit_code == 0
