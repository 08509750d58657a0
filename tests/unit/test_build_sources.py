"""Build inputs: shipped recipes, custom scripts, host CA files and the recipe hash."""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import pytest

from coi.errors import CoiError, NotFound
from coi.images.sources import (
    BUILD_DIR,
    BuildFile,
    Recipe,
    builtin_recipe,
    custom_recipe,
    host_ca_files,
    recipe_text,
)
from coi.tools import dummy


def test_builtin_recipe_brings_common_and_the_dummy() -> None:
    recipe = builtin_recipe("test")
    dests = {f.dest: f for f in recipe.files}
    assert recipe.entry == f"{BUILD_DIR}/test.sh"
    assert recipe.argv == ["/bin/bash", f"{BUILD_DIR}/test.sh"]
    assert set(dests) == {f"{BUILD_DIR}/test.sh", f"{BUILD_DIR}/common.sh", f"{BUILD_DIR}/dummy"}
    assert dests[f"{BUILD_DIR}/dummy"].data == dummy.script_path().read_bytes()
    assert dests[f"{BUILD_DIR}/dummy"].mode == 0o755
    assert recipe.label == "the test recipe"


def test_unknown_builtin_recipe() -> None:
    with pytest.raises(NotFound, match="no built-in recipe 'rust'"):
        builtin_recipe("rust")


def test_recipe_hash_is_stable_and_follows_every_file() -> None:
    recipe = builtin_recipe("coi")
    assert recipe.content_hash() == builtin_recipe("coi").content_hash()
    assert recipe.content_hash() != builtin_recipe("test").content_hash()
    changed = list(recipe.files)
    changed[-1] = dataclasses.replace(changed[-1], data=changed[-1].data + b"\n")
    assert dataclasses.replace(recipe, files=tuple(changed)).content_hash() != \
        recipe.content_hash()


def test_recipe_hash_ignores_file_order_but_not_places() -> None:
    a, b = BuildFile("/x/a", b"1"), BuildFile("/x/b", b"2")
    assert Recipe("r", "/x/a", (a, b)).content_hash() == Recipe("r", "/x/a", (b, a)).content_hash()
    moved = BuildFile("/x/c", b"2")
    assert Recipe("r", "/x/a", (a, b)).content_hash() != \
        Recipe("r", "/x/a", (a, moved)).content_hash()


def test_custom_script_with_shebang_runs_as_is(tmp_path: Path) -> None:
    script = tmp_path / "setup.sh"
    script.write_text("#!/bin/bash\necho hi\n")
    recipe = custom_recipe(script)
    assert recipe.argv == [f"{BUILD_DIR}/setup.sh"]
    assert recipe.files == (BuildFile(f"{BUILD_DIR}/setup.sh", script.read_bytes(), 0o755),)
    assert recipe.label == "the build script setup.sh"


def test_custom_script_without_shebang_runs_under_sh(tmp_path: Path) -> None:
    script = tmp_path / "steps"
    script.write_text("echo hi\n")
    assert custom_recipe(script).argv == ["/bin/sh", f"{BUILD_DIR}/steps"]


def test_missing_or_unreadable_script(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match=r"build script .*nope\.sh not found") as info:
        custom_recipe(tmp_path / "nope.sh")
    assert info.value.hint == "pass an existing file to --script"
    with pytest.raises(CoiError, match="cannot read build script"):
        custom_recipe(tmp_path)


def test_host_ca_files_keep_their_place_and_follow_links(tmp_path: Path) -> None:
    (tmp_path / "corp").mkdir()
    (tmp_path / "corp" / "root.crt").write_text("ROOT")
    (tmp_path / "proxy.crt").write_text("PROXY")
    (tmp_path / "readme.txt").write_text("not a cert")
    (tmp_path / "link.crt").symlink_to(tmp_path / "proxy.crt")
    (tmp_path / "dangling.crt").symlink_to(tmp_path / "gone.crt")
    found = {f.dest: f.data for f in host_ca_files(tmp_path)}
    base = "/usr/local/share/ca-certificates"
    assert found == {f"{base}/corp/root.crt": b"ROOT", f"{base}/proxy.crt": b"PROXY",
                     f"{base}/link.crt": b"PROXY"}


def test_no_ca_directory_means_no_files(tmp_path: Path) -> None:
    assert host_ca_files(tmp_path / "none") == ()


@pytest.mark.parametrize("name", ["common.sh", "coi.sh", "test.sh", "ready.sh"])
def test_shipped_scripts_parse(name: str) -> None:
    shell = "sh" if name == "ready.sh" else "bash"
    result = subprocess.run([shell, "-n"], input=recipe_text(name), capture_output=True,
                            check=False)
    assert result.returncode == 0, result.stderr.decode()


def test_recipes_announce_phases_and_leave_a_fresh_machine() -> None:
    common = recipe_text("common.sh").decode()
    assert 'phase() { echo "::phase:: $*"; }' in common
    assert ": > /etc/machine-id" in common
    for name in ("coi.sh", "test.sh"):
        text = recipe_text(name).decode()
        assert "common.sh" in text
        assert text.rstrip().endswith("finish_image")
