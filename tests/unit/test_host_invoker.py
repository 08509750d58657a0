"""Who coi works for: SUDO_USER is honoured only when we really are root."""

from __future__ import annotations

import pwd

from coi.host.invoker import invoking_user

NOBODY = pwd.getpwnam("nobody")


def test_sudo_user_is_the_invoker_under_sudo() -> None:
    user = invoking_user({"SUDO_USER": "nobody"}, euid=0)
    assert (user.name, user.uid, user.gid) == ("nobody", NOBODY.pw_uid, NOBODY.pw_gid)
    assert not user.is_root


def test_doas_is_honoured_too() -> None:
    assert invoking_user({"DOAS_USER": "nobody"}, euid=0).name == "nobody"


def test_sudo_user_is_ignored_when_not_root() -> None:
    user = invoking_user({"SUDO_USER": "root"}, euid=NOBODY.pw_uid)
    assert user.name == "nobody"


def test_plain_root_and_unknown_names_are_root() -> None:
    assert invoking_user({}, euid=0).is_root
    assert invoking_user({"SUDO_USER": "root"}, euid=0).is_root
    assert invoking_user({"SUDO_USER": "no-such-user-coi"}, euid=0).is_root
