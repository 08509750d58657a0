"""The narrow privileged path: members of incus-admin may run `nft`, on coi's table only.

coi's egress rules live in one nftables table, `inet coi`. Changing rules needs root, so
`coi setup` installs /etc/sudoers.d/coi, which lets incus-admin members run /usr/sbin/nft
without a password for exactly these command shapes (sudo >= 1.9.10 regular expressions,
matched against the whole argument string):

- list the table (optionally as JSON, with handles);
- create, flush or delete the table;
- add, flush or delete a chain, set or map in it; add, insert, replace or delete a rule;
  add or delete set elements.

The argument text is limited to letters, digits, spaces and `._/{}@<>=!:,"-`. That rules
out `;` and newlines, which would let one nft invocation run a second command on another
table, and `-f`/`-i`, which read commands from a file or stdin. Base chains therefore take
no `; policy …` clause: coi adds explicit drop rules instead.

This is defence in depth, not a security boundary: incus-admin is root-equivalent anyway
(its members can mount any host path into a privileged container).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from coi.errors import SetupError
from coi.host.files import write_atomic
from coi.host.proc import run

SUDOERS_FILE = Path("/etc/sudoers.d/coi")
NFT_TABLE = "inet coi"
GROUP = "incus-admin"
NAME = "[a-zA-Z0-9_-]+"
# `,` and `:` are special to sudoers and need a backslash; inside a bracket expression the
# backslash would itself become an allowed character, so they are alternatives outside it.
TEXT = r'([a-zA-Z0-9 ._/{}@<>=!"-]|\,|\:)+'
STEP = "sudoers entry"

# One POSIX extended regex per allowed command shape, written exactly as sudoers gets it.
# Base chains need `;` in their declaration (nft 1.0.6 refuses it otherwise). This shape is
# fixed text, so a `;` here can never start a second nft command.
BASE_CHAIN_PATTERN = (r"^add chain inet coi (forward|input) [{] type filter hook "
                      r"(forward|input) priority filter [;] [}]$")

PATTERNS = (
    f"^(-j )?(-a )?list table {NFT_TABLE}$",
    f"^(add|create|flush|delete) table {NFT_TABLE}$",
    f"^(add|create|flush|delete) (chain|set|map) {NFT_TABLE} {NAME}( {TEXT})?$",
    f"^(add|insert|replace) rule {NFT_TABLE} {NAME} {TEXT}$",
    f"^delete rule {NFT_TABLE} {NAME} handle [0-9]+$",
    f"^(add|delete) element {NFT_TABLE} {NAME} {TEXT}$",
    BASE_CHAIN_PATTERN,
)


def nft_path() -> str:
    return shutil.which("nft", path="/usr/sbin:/sbin:/usr/bin:/bin") or "/usr/sbin/nft"


def sudoers_text(nft: str | None = None, group: str = GROUP) -> str:
    binary = nft or nft_path()
    commands = ", \\\n    ".join(f"{binary} {p}" for p in PATTERNS)
    return (
        "# Written by `coi setup`: incus-admin members may change coi's own nftables table\n"
        f"# ({NFT_TABLE}) without a password. See docs/host-setup.md. Do not edit:\n"
        "# `coi setup` rewrites this file when coi's needs change.\n"
        f"Cmnd_Alias COI_NFT = \\\n    {commands}\n"
        f"%{group} ALL=(root) NOPASSWD: COI_NFT\n"
    )


def sudo_installed() -> bool:
    return shutil.which("visudo", path="/usr/sbin:/sbin:/usr/bin") is not None and \
        SUDOERS_FILE.parent.is_dir()


def current(path: Path = SUDOERS_FILE) -> str | None:
    try:
        return path.read_text()
    except FileNotFoundError:
        return None


def install(text: str, path: Path = SUDOERS_FILE, visudo: str = "visudo") -> None:
    """Validate with `visudo -cf` before the file goes live: a broken sudoers locks out sudo."""
    with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=".coi-", delete=False) as tmp:
        tmp.write(text)
    candidate = Path(tmp.name)
    try:
        run([visudo, "-cf", str(candidate)], step=STEP,
            fix="report this as a coi bug; nothing was installed")
        candidate.unlink()
        write_atomic(path, text, 0o440)
    finally:
        candidate.unlink(missing_ok=True)
    if current(path) != text:
        raise SetupError(f"{STEP}: {path} did not keep its content")
