"""Planning protected paths and secret masks (no host changes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from coi.config.model import Config, Git, Security
from coi.errors import PolicyError
from coi.security import paths, protect
from coi.security.verify import problems, readonly_points


def _repo(tmp_path: Path) -> Path:
    (tmp_path / ".git" / "hooks").mkdir(parents=True)
    (tmp_path / ".git" / "config").write_text("[core]\n")
    return tmp_path


def test_defaults_protect_existing_and_absent_paths(tmp_path: Path) -> None:
    plan = protect.plan(_repo(tmp_path), Config(), "c1")
    kinds = {t.rel: (t.kind, t.exists) for t in plan.targets}
    assert kinds[".git/hooks"] == ("dir", True)
    assert kinds[".git/config"] == ("file", True)
    assert kinds[".git/commondir"] == ("file", False)
    assert kinds[".husky"] == ("dir", False)
    assert kinds[".claude/settings.json"] == ("file", False)
    assert kinds[".coi.toml"] == ("file", False)
    assert plan.anchors == (".claude", ".codex", ".git")


def test_additional_paths_add_and_protected_paths_replace(tmp_path: Path) -> None:
    config = Config(security=Security(protected_paths=(".git/hooks",),
                                      additional_protected_paths=("Makefile", ".idea")))
    plan = protect.plan(_repo(tmp_path), config, "c1")
    assert [t.rel for t in plan.targets] == [".idea", "Makefile", ".git/hooks"]
    assert {t.rel: t.kind for t in plan.targets}["Makefile"] == "file"


@pytest.mark.parametrize("config,flag", [
    (Config(security=Security(disable_protection=True)), False),
    (Config(git=Git(writable_hooks=True)), False),
    (Config(), True),
])
def test_every_opt_out_disables_protection(tmp_path: Path, config: Config, flag: bool) -> None:
    plan = protect.plan(_repo(tmp_path), config, "c1", writable_git_hooks=flag)
    assert not plan.active
    assert plan.workspace_device() == {"type": "disk", "source": str(tmp_path),
                                       "path": "/workspace"}


def test_active_plan_points_the_workspace_at_the_locked_staging_tree(tmp_path: Path) -> None:
    plan = protect.plan(_repo(tmp_path), Config(), "c1", run_dir=tmp_path / "run")
    assert plan.workspace_device() == {"type": "disk", "source": str(tmp_path / "run/c1/ws"),
                                       "path": "/workspace", "recursive": "true"}


def test_symlinked_protected_path_is_refused(tmp_path: Path) -> None:
    _repo(tmp_path)
    (tmp_path / ".vscode").symlink_to("/etc")
    with pytest.raises(PolicyError, match=r"\.vscode .*symlink .*/etc"):
        protect.plan(tmp_path, Config(), "c1")


def test_symlinked_ancestor_is_refused(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / ".claude").symlink_to(tmp_path / "real")
    with pytest.raises(PolicyError, match="symlink"):
        paths.inspect(tmp_path, ".claude/settings.json")


def test_gitdir_file_is_protected_itself(tmp_path: Path) -> None:
    (tmp_path / ".git").write_text("gitdir: /elsewhere\n")
    assert paths.inspect(tmp_path, ".git/hooks") == paths.Target(".git", "file", True)


@pytest.mark.parametrize("raw", ["/etc", "../x", "~/.ssh", "a/../../b", ""])
def test_paths_must_stay_in_the_workspace(raw: str) -> None:
    with pytest.raises(PolicyError):
        paths.normalise(raw)


def test_secret_globs_match_names_anywhere_and_paths_from_root(tmp_path: Path) -> None:
    for rel in [".env", "app/.env", "keys/a.pem", "docs/x.md", ".git/b.pem"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    (tmp_path / "secrets").mkdir()
    found = paths.secret_targets(tmp_path, [".env", "*.pem", "secrets/"])
    assert sorted((t.rel, t.kind) for t in found) == [
        (".env", "file"), ("app/.env", "file"), ("keys/a.pem", "file"), ("secrets", "dir")]


def test_placeholders_are_valid_for_their_readers() -> None:
    assert paths.Target(".claude/settings.json", "file", False).placeholder == b"{}\n"
    assert paths.Target(".git/commondir", "file", False).placeholder == b".\n"
    assert paths.Target(".codex/config.toml", "file", False).placeholder == b""


MOUNTINFO = """\
1 0 8:1 / / rw - ext4 /dev/vda rw
2 1 8:1 /ws/.git/hooks /workspace/.git/hooks ro,relatime - ext4 /dev/vda rw
3 1 8:1 /ws/a\\040b /workspace/a\\040b ro - ext4 /dev/vda rw
4 1 8:1 /ws/.git/config /workspace/.git/config rw - ext4 /dev/vda ro
"""


def test_verify_reads_per_mount_read_only_flags() -> None:
    assert readonly_points(MOUNTINFO) == {"/workspace/.git/hooks", "/workspace/a b"}
    points = ["/workspace/.git/hooks", "/workspace/.git/config"]
    assert problems(points, "---\n" + MOUNTINFO) == [
        "/workspace/.git/config is not a read-only mount point"]
    assert problems(points[:1], "UNMOUNTED /workspace/.git/hooks\n---\n" + MOUNTINFO) == [
        "/workspace/.git/hooks could be unmounted by container root"]
