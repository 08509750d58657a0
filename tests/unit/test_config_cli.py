"""`coi config` as a user runs it: output, JSON shapes, and one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from coi.cli.main import cli


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An isolated HOME, workspace (cwd) and /etc for the CLI, with no COI_* variables."""
    home = tmp_path / "home"
    work = tmp_path / "work"
    home.mkdir()
    work.mkdir()
    for name in list(os.environ):
        if name.startswith(("COI_", "SUDO_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    monkeypatch.setattr("coi.config.context.SYSTEM_CONFIG_FILE", tmp_path / "etc.toml")
    return home


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_set_then_get_then_show_origin(home: Path) -> None:
    code, out, _ = run("config", "set", "network.allowlist", "a.com,b.org")
    assert code == 0
    assert out == ('~/.config/coi/config.toml: network.allowlist = ["a.com", "b.org"] '
                   "(was unset, file created)\n")
    assert run("config", "get", "network.allowlist") == (0, "a.com,b.org\n", "")
    code, out, _ = run("config", "get", "network.allowlist", "--json")
    assert json.loads(out) == ["a.com", "b.org"]
    _, out, _ = run("config", "show", "--origin")
    assert 'allowlist = ["a.com", "b.org"]' in out
    line = next(x for x in out.splitlines() if x.startswith("allowlist"))
    assert line.endswith("# ~/.config/coi/config.toml")
    line = next(x for x in out.splitlines() if x.startswith("mode = "))
    assert line.endswith("# default")


def test_show_json_with_origins(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COI_NETWORK", "open")
    code, out, _ = run("config", "show", "--json", "--origin")
    data = json.loads(out)
    assert code == 0
    assert data["config"]["network"]["mode"] == "open"
    assert data["origins"]["network.mode"] == {"kind": "env", "name": "COI_NETWORK",
                                               "via": None, "label": "env COI_NETWORK"}
    assert json.loads(run("config", "show", "--format", "json")[1])["tool"]["name"] == "claude"


def test_show_with_profile(home: Path) -> None:
    run("config", "set", "profiles.rust.image", "coi-rust")
    _, out, _ = run("config", "show", "--profile", "rust", "--origin")
    line = next(x for x in out.splitlines() if x.startswith("image = "))
    assert line.startswith('image = "coi-rust"')
    assert line.endswith("# profile rust (~/.config/coi/config.toml)")


def test_get_a_table_prints_toml(home: Path) -> None:
    code, out, _ = run("config", "get", "git")
    assert (code, out) == (0, "[git]\nwritable_hooks = false\n")


def test_set_warns_when_a_later_layer_still_wins(home: Path) -> None:
    Path(".coi.toml").write_text('[network]\nmode = "open"\n')
    code, _, err = run("config", "set", "network.mode", "allowlist")
    assert code == 0
    assert err.startswith("coi: warning: network.mode is still overridden by ")
    assert err.rstrip().endswith("/work/.coi.toml")


def test_set_project_writes_the_workspace_file(home: Path) -> None:
    code, out, _ = run("config", "set", "--project", "limits.memory", "2GiB")
    assert code == 0 and "limits.memory = \"2GiB\"" in out
    assert Path(".coi.toml").read_text() == '[limits]\nmemory = "2GiB"\n'


def test_path_lists_files_and_which_exist(home: Path) -> None:
    run("config", "set", "defaults.image", "mine")
    data = json.loads(run("config", "path", "--json")[1])
    assert [(f["layer"], f["exists"]) for f in data] == [
        ("system", False), ("user", True), ("project", False)]
    user_line = run("config", "path")[1].splitlines()[2]
    assert user_line.split() == ["user", "~/.config/coi/config.toml", "found"]


def coi(args: list[str], home: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COI_", "SUDO_"))}
    env["HOME"] = str(home)
    return subprocess.run([sys.executable, "-m", "coi", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize("text", ['[network]\nmode = "opne"\n', "[network\n"])
def test_bad_config_is_one_line_on_stderr_and_exit_3(tmp_path: Path, text: str) -> None:
    user = tmp_path / ".config" / "coi" / "config.toml"
    user.parent.mkdir(parents=True)
    user.write_text(text)
    result = coi(["config", "show"], tmp_path, tmp_path)
    assert result.returncode == 3
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("coi: error: ~/.config/coi/config.toml: ")
    assert "Traceback" not in result.stderr


def test_unknown_key_in_get_suggests_and_exits_3(tmp_path: Path) -> None:
    result = coi(["config", "get", "tool.nmae"], tmp_path, tmp_path)
    assert (result.returncode, result.stdout) == (3, "")
    assert result.stderr == "coi: error: tool.nmae: unknown key (did you mean tool.name?)\n"
