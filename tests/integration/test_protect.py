"""Protected paths and secret masks against a real container, as code and as root.

Every attack below is one that worked against a plain read-only disk device or against
`chattr +i` (see docs/security.md); with locked host-side mounts each must fail, and the
host files must be byte-identical afterwards.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from coi.config.model import Config, Security
from coi.errors import PolicyError
from coi.incus.client import Client
from coi.security import protect
from coi.security.verify import verify
from tests.integration.test_protect_support import (
    container,
    make_repo,
    open_dir,
    sh,
    snapshot,
    sp_name,
)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="host-side mounts need root")

PROTECTED = [".git/hooks", ".git/config", ".git/commondir", ".husky", ".vscode",
             ".coi.toml", ".claude/settings.json", ".codex/config.toml"]
CODE_ATTACKS = [
    "echo evil > /workspace/.git/hooks/pre-commit",
    "echo evil > /workspace/.git/hooks/post-checkout",
    "echo '[core]' >> /workspace/.git/config",
    "echo /tmp/evil > /workspace/.git/commondir",
    "mv /workspace/.git /workspace/.git2",
    "mv /workspace/.git/hooks /workspace/.git/hooks2",
    "rm -f /workspace/.git/config",
    "ln /workspace/.git/config /workspace/cfg && echo x >> /workspace/cfg",
    "touch /workspace/.husky/pre-commit",
    "mkdir -p /workspace/.vscode/x",
    "echo '{}' > /workspace/.claude/settings.json",
    "mv /workspace/.claude /workspace/.claude2",
    "echo x > /workspace/.coi.toml",
    "echo x > /workspace/.codex/config.toml",
]
ROOT_ATTACKS = [
    *CODE_ATTACKS,
    "umount /workspace/.git/hooks", "umount -l /workspace/.git/hooks",
    "umount -l /workspace/.git", "umount -l /workspace/.git/config",
    "mount -o remount,rw /workspace/.git/hooks",
    "mount -o remount,bind,rw /workspace/.git/hooks",
    "chmod 777 /workspace/.git/hooks", "chown 0 /workspace/.git/hooks/pre-commit",
    "rm -rf /workspace/.git/hooks",
    "mount --bind /workspace /mnt && echo evil > /mnt/.git/hooks/pre-commit",
    "mount --rbind /workspace /mnt; umount /mnt/.git/hooks && echo evil > /mnt/.git/hooks/x",
    "chattr -i /workspace/.git/config",
]


def _plan(repo: Path, name: str, tmp: Path, **security: object) -> protect.ProtectionPlan:
    config = Config(security=Security(**security))  # type: ignore[arg-type]
    return protect.plan(repo, config, name, run_dir=tmp / "run")


def _attack(client: Client, name: str, attacks: list[str], root: bool) -> list[str]:
    return [a for a in attacks if sh(client, name, a, root=root).exit_code == 0]


@pytest.mark.parametrize("owner", [0, 1234])
def test_protected_paths_hold_against_code_and_root(incus: Client, tmp_path: Path,
                                                    owner: int) -> None:
    with open_dir() as base:
        _attack_and_release(incus, make_repo(base / "ws", owner), owner, tmp_path)


def _attack_and_release(incus: Client, repo: Path, owner: int, tmp_path: Path) -> None:
    before = snapshot(repo, [".git/hooks", ".git/config"])
    name = sp_name()
    plan = _plan(repo, name, tmp_path)
    home = tmp_path / "coi"
    protect.apply(plan, home)
    try:
        with container(incus, owner, {"workspace": plan.workspace_device()},
                       name=name) as made:
            verify(incus, made, plan)
            assert sh(incus, made, "echo ok > /workspace/new && git -C /workspace status",
                      root=False).exit_code == 0, "the workspace must stay usable"
            assert _attack(incus, made, CODE_ATTACKS, root=False) == []
            assert _attack(incus, made, ROOT_ATTACKS, root=True) == []
    finally:
        result = protect.release(home, name)
    assert result.released and result.kept == []
    assert snapshot(repo, [".git/hooks", ".git/config"]) == before
    assert not any(os.path.lexists(repo / p) for p in
                   [".husky", ".vscode", ".coi.toml", ".claude", ".codex", ".git/commondir"])
    assert str(tmp_path / "run") not in Path("/proc/self/mountinfo").read_text()
    _owner_can_write(repo / ".git/hooks/post-merge", owner)


def _owner_can_write(path: Path, owner: int) -> None:
    subprocess.run(["setpriv", f"--reuid={owner}", f"--regid={owner}", "--clear-groups",
                    "sh", "-c", f"echo ok > {path}"], check=True)
    assert path.read_text() == "ok\n"


def test_symlinked_hooks_are_refused_not_followed(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "ws", 0)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("s3cret")
    subprocess.run(["rm", "-rf", str(repo / ".git/hooks")], check=True)
    (repo / ".git/hooks").symlink_to(outside)
    with pytest.raises(PolicyError, match="symlink"):
        _plan(repo, "coi-spx", tmp_path)
    assert (repo / ".git/hooks").is_symlink() and not (tmp_path / "run").exists()


def test_secret_masks_hide_content_and_cannot_be_lifted(incus: Client, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "ws", 1234)
    (repo / ".env").write_text("TOKEN=abc\n")
    (repo / "keys").mkdir()
    (repo / "keys" / "id.pem").write_text("PRIVATE\n")
    name = sp_name()
    plan = _plan(repo, name, tmp_path, secret_paths=(".env", "*.pem"))
    assert {t.rel for t in plan.masks} == {".env", "keys/id.pem"}
    home = tmp_path / "coi"
    protect.apply(plan, home)
    try:
        with container(incus, 1234, {"workspace": plan.workspace_device()},
                       name=name) as made:
            verify(incus, made, plan)
            out = sh(incus, made, "cat /workspace/.env /workspace/keys/id.pem; "
                     "umount /workspace/.env; cat /workspace/.env").stdout
            assert b"abc" not in out and b"PRIVATE" not in out
            assert sh(incus, made, "echo x > /workspace/.env").exit_code != 0
    finally:
        protect.release(home, name)
    assert (repo / ".env").read_text() == "TOKEN=abc\n"


def test_clean_restores_after_a_crash(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "ws", 1234)
    plan = _plan(repo, "coi-spcrash", tmp_path)
    home = tmp_path / "coi"
    protect.apply(plan, home)  # then "crash": no release
    assert (repo / ".husky").is_dir() and protect.orphans(home, live=[]) == ["coi-spcrash"]
    restored = protect.restore_protections(home, live=[])
    assert restored["coi-spcrash"].released
    assert not (repo / ".husky").exists() and protect.recorded(home) == []
    assert str(tmp_path / "run") not in Path("/proc/self/mountinfo").read_text()


def test_placeholder_the_agent_filled_is_kept(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "ws", 0)
    plan = _plan(repo, "coi-spkeep", tmp_path, protected_paths=(".idea",))
    home = tmp_path / "coi"
    protect.apply(plan, home)
    (repo / ".idea" / "x").write_text("user data")  # the host side stays writable
    result = protect.release(home, "coi-spkeep")
    assert result.kept == [".idea"] and (repo / ".idea" / "x").exists()
