"""The container environment is an allow-list; instance keys; profiles that undo isolation."""

from __future__ import annotations

import pytest

from coi.errors import PolicyError
from coi.security import credentials as cred

HOST = {"HOME": "/root", "AWS_SECRET_ACCESS_KEY": "x", "GH_TOKEN": "y", "TERM": "xterm",
        "SSH_AUTH_SOCK": "/tmp/agent", "MY_VAR": "v", "PATH": "/host/bin"}


def test_nothing_from_the_host_gets_in_unless_named() -> None:
    env = cred.container_env(HOST)
    assert env["HOME"] == "/home/code" and env["PATH"] == cred.CONTAINER_PATH
    assert env["TERM"] == "xterm"
    assert not {"AWS_SECRET_ACCESS_KEY", "GH_TOKEN", "SSH_AUTH_SOCK", "MY_VAR"} & env.keys()


def test_forward_static_explicit_and_tool_layers() -> None:
    env = cred.container_env(HOST, forward=["MY_VAR", "ABSENT"], static={"A": "1", "B": "1"},
                             explicit={"B": "2"}, tool={"ANTHROPIC_MODEL": "m"})
    assert (env["MY_VAR"], env["A"], env["B"], env["ANTHROPIC_MODEL"]) == ("v", "1", "2", "m")
    assert "ABSENT" not in env


@pytest.mark.parametrize("kwargs", [{"forward": ["SSH_AUTH_SOCK"]},
                                    {"explicit": {"SSH_AUTH_SOCK": "/x"}},
                                    {"static": {"DOCKER_HOST": "unix:///x"}}])
def test_agent_sockets_are_never_set(kwargs: dict[str, object]) -> None:
    with pytest.raises(PolicyError, match=r"SSH_AUTH_SOCK|DOCKER_HOST"):
        cred.container_env(HOST, **kwargs)  # type: ignore[arg-type]


def test_a_terminal_name_with_escapes_is_replaced() -> None:
    assert cred.container_env({"TERM": "x\x1b]0;evil"})["TERM"] == "xterm-256color"


def test_instance_config_with_and_without_nesting() -> None:
    on = cred.instance_config()
    assert on["security.privileged"] == "false" and on["security.guestapi"] == "false"
    assert on["security.nesting"] == "true"
    off = cred.instance_config(cred.SecurityOptions(nesting=False))
    assert off["security.nesting"] == "false" and "security.syscalls.intercept.mknod" not in off


@pytest.mark.parametrize("profile,problem", [
    ({"config": {"security.privileged": "true"}}, "privileged"),
    ({"config": {"raw.lxc": "lxc.apparmor.profile=unconfined"}}, "raw.lxc"),
    ({"devices": {"h": {"type": "disk", "source": "/home", "path": "/h"}}}, "host path /home"),
    ({"devices": {"s": {"type": "proxy", "listen": "unix:/x"}}}, "proxy"),
])
def test_profile_problems(profile: dict[str, object], problem: str) -> None:
    [found] = cred.profile_problems({"name": "p", **profile})
    assert problem in found


def test_the_default_profile_is_fine() -> None:
    assert cred.profile_problems({"name": "default", "config": {}, "devices": {
        "root": {"type": "disk", "path": "/", "pool": "default"},
        "eth0": {"type": "nic", "network": "incusbr0"}}}) == []
