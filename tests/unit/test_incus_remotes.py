"""Remotes read from the incus CLI's own config.yml."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from coi.errors import ConfigError
from coi.incus import remotes
from coi.incus.remotes import Remote, config_dir, endpoint_for, parse_config

CONFIG = """\
default-remote: prod
remotes:
  images:
    addr: https://images.linuxcontainers.org
    protocol: simplestreams
    public: true
  local:
    addr: unix://
    protocol: incus
  other-socket:
    addr: unix:///run/other/unix.socket
  prod:
    addr: https://10.0.0.5:8443
    protocol: incus
    project: team
  v6:
    addr: https://[fd00::1]
  sso:
    addr: https://sso.example:8443
    auth_type: oidc
"""


@pytest.fixture
def conf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "config.yml").write_text(CONFIG)
    (tmp_path / "servercerts").mkdir()
    (tmp_path / "servercerts" / "prod.crt").write_text("pinned")
    monkeypatch.setenv("INCUS_CONF", str(tmp_path))
    return tmp_path


def test_config_dir_prefers_incus_conf() -> None:
    assert config_dir({"INCUS_CONF": "/x", "HOME": "/home/a"}) == Path("/x")


def test_config_dir_is_under_home() -> None:
    assert config_dir({"HOME": "/home/a"}) == Path("/home/a/.config/incus")


def test_config_dir_under_sudo_is_the_invoking_users(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 0)
    env = {"HOME": "/root", "SUDO_USER": "nobody"}
    assert config_dir(env) == Path("/nonexistent/.config/incus")  # nobody's home


def test_sudo_user_is_ignored_when_not_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    assert config_dir({"HOME": "/home/a", "SUDO_USER": "nobody"}) == Path("/home/a/.config/incus")


def test_parse_config_defaults_to_local() -> None:
    default, found = parse_config(None)
    assert default == "local"
    assert found["local"].addr == "unix://"


def test_parse_config_reads_remotes(conf: Path) -> None:
    default, found = remotes.load_config(conf)
    assert default == "prod"
    assert found["prod"] == Remote("prod", "https://10.0.0.5:8443", "incus", "team", "tls")
    assert found["images"].protocol == "simplestreams"


def test_missing_config_file_means_local(tmp_path: Path) -> None:
    assert remotes.load_config(tmp_path) == parse_config(None)


def test_broken_yaml_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "config.yml").write_text("remotes: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        remotes.load_config(tmp_path)


def test_unix_addresses(conf: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INCUS_SOCKET", "/run/custom.socket")
    _, found = remotes.load_config(conf)
    assert endpoint_for(found["local"], conf).socket_path == "/run/custom.socket"
    assert endpoint_for(found["other-socket"], conf).socket_path == "/run/other/unix.socket"


def test_https_remote_uses_cli_certificates(conf: Path) -> None:
    _, found = remotes.load_config(conf)
    endpoint = endpoint_for(found["prod"], conf)
    assert (endpoint.host, endpoint.port) == ("10.0.0.5", 8443)
    assert endpoint.client_cert == str(conf / "client.crt")
    assert endpoint.client_key == str(conf / "client.key")
    assert endpoint.server_cert == str(conf / "servercerts" / "prod.crt")


def test_https_remote_without_pinned_cert_uses_system_trust(conf: Path) -> None:
    _, found = remotes.load_config(conf)
    endpoint = endpoint_for(found["v6"], conf)
    assert endpoint.server_cert is None
    assert endpoint.description == "https://[fd00::1]:8443"


@pytest.mark.parametrize(("name", "message"), [("images", "image server"), ("sso", "oidc")])
def test_unusable_remotes_are_config_errors(conf: Path, name: str, message: str) -> None:
    _, found = remotes.load_config(conf)
    with pytest.raises(ConfigError, match=message):
        endpoint_for(found[name], conf)


def test_connect_uses_default_remote_and_its_project(conf: Path) -> None:
    client = remotes.connect()
    assert client.endpoint.host == "10.0.0.5"
    assert client.project == "team"
    assert remotes.connect("prod", project="x").project == "x"
    local = remotes.connect("local")
    assert local.endpoint.is_unix
    assert local.project == "default"


def test_connect_to_unknown_remote(conf: Path) -> None:
    with pytest.raises(ConfigError, match="no Incus remote named 'nope'"):
        remotes.connect("nope")


def test_import_is_cheap() -> None:
    code = (
        "import sys, coi.incus; "
        "print(sorted(m for m in ('yaml', 'websockets', 'http.client', 'ssl') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_lazy_names_resolve() -> None:
    import coi.incus
    from coi.incus.client import Client

    assert coi.incus.Client is Client
    assert callable(coi.incus.connect)
    with pytest.raises(AttributeError):
        _ = coi.incus.NoSuchThing
