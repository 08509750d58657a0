"""Users and groups read from a container's /etc/passwd and /etc/group."""

from __future__ import annotations

from coi.ops.users import User, find_user, parse_groups, parse_passwd

PASSWD = """root:x:0:0:root:/root:/bin/bash
code:x:1000:1000::/home/code:/bin/bash
broken line
nohome:x:1001:1001:::/bin/sh
"""


def test_parse_passwd_skips_broken_lines() -> None:
    users = parse_passwd(PASSWD)
    assert [u.name for u in users] == ["root", "code", "nohome"]
    assert users[1] == User("code", 1000, 1000, "/home/code")
    assert users[2].home == "/"


def test_find_by_name_or_uid() -> None:
    users = parse_passwd(PASSWD)
    assert find_user(users, "code") == find_user(users, "1000") == users[1]
    assert find_user(users, "4242") is None


def test_login_environment() -> None:
    assert User("code", 1000, 1000, "/home/code").env() == {
        "HOME": "/home/code", "USER": "code", "LOGNAME": "code"}


def test_parse_groups() -> None:
    assert parse_groups("root:x:0:\ncode:x:1000:\ndocker:x:999:code\nbad\n") == {
        "root": 0, "code": 1000, "docker": 999}
