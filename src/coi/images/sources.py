"""What a build pushes into its container: recipe files, the dummy tool, host CA files.

Everything goes to BUILD_DIR, not /tmp: a container empties /tmp while it boots, and a
file pushed too early would vanish. The recipe hash covers exactly the files that shape
the image (recipes and the dummy script), so an image can tell whether it is current.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from coi.errors import CoiError, NotFound
from coi.tools import dummy

BUILD_DIR = "/var/tmp/coi-build"
CA_DIR = Path("/usr/local/share/ca-certificates")
RECIPES = ("coi", "test")


@dataclass(frozen=True)
class BuildFile:
    """One file to create in the build container."""

    dest: str  # absolute path in the container
    data: bytes
    mode: int = 0o644


@dataclass(frozen=True)
class Recipe:
    """The script a build runs (`entry`) and the files it needs beside it."""

    name: str
    entry: str
    files: tuple[BuildFile, ...]
    interpreter: tuple[str, ...] = ("/bin/bash",)

    @property
    def argv(self) -> list[str]:
        return [*self.interpreter, self.entry]

    @property
    def label(self) -> str:
        kind, _, script = self.name.partition(":")
        return f"the build script {script}" if kind == "custom" else f"the {self.name} recipe"

    def content_hash(self) -> str:
        """SHA-256 over each file's place and content: equal hash, equal image recipe."""
        digest = hashlib.sha256()
        for item in sorted(self.files, key=lambda f: f.dest):
            digest.update(f"{item.dest}\0{len(item.data)}\0".encode())
            digest.update(item.data)
        return digest.hexdigest()


def recipe_text(filename: str) -> bytes:
    """A shipped recipe file (`common.sh`, `coi.sh`, `ready.sh`, ...)."""
    return files("coi.images").joinpath("recipes", filename).read_bytes()


def builtin_recipe(name: str) -> Recipe:
    """A recipe shipped with coi: `<name>.sh`, with common.sh and the dummy tool."""
    if name not in RECIPES:
        raise NotFound(f"no built-in recipe {name!r}", hint=f"one of: {', '.join(RECIPES)}")
    entry = f"{BUILD_DIR}/{name}.sh"
    return Recipe(name, entry, (
        BuildFile(entry, recipe_text(f"{name}.sh"), 0o755),
        BuildFile(f"{BUILD_DIR}/common.sh", recipe_text("common.sh")),
        BuildFile(f"{BUILD_DIR}/dummy", dummy.script_path().read_bytes(), 0o755),
    ))


def custom_recipe(script: Path) -> Recipe:
    """The user's own build script, run as it is (its shebang picks the interpreter)."""
    try:
        data = script.read_bytes()
    except FileNotFoundError:
        raise NotFound(f"build script {script} not found",
                       hint="pass an existing file to --script") from None
    except OSError as exc:
        raise CoiError(f"cannot read build script {script}: {exc.strerror}") from None
    entry = f"{BUILD_DIR}/{script.name}"
    # A script without a `#!` line cannot be executed directly: sh runs it, as a shell would.
    interpreter = () if data.startswith(b"#!") else ("/bin/sh",)
    return Recipe(f"custom:{script.name}", entry, (BuildFile(entry, data, 0o755),), interpreter)


def host_ca_files(ca_dir: Path = CA_DIR) -> tuple[BuildFile, ...]:
    """The host's locally added CA certificates, at the same place in the container.

    Read here (following symlinks) and written as plain files: a link would dangle.
    """
    if not ca_dir.is_dir():
        return ()
    found = []
    for cert in sorted(ca_dir.rglob("*.crt")):
        try:
            found.append(BuildFile(f"{CA_DIR}/{cert.relative_to(ca_dir)}", cert.read_bytes()))
        except OSError:
            continue  # unreadable or a dangling link: the host cannot use it either
    return tuple(found)
