"""The adapters' assumptions, checked against the real binaries in the full `coi` image.

Offline: only `--version` and `--help`, and where the tool keeps its data. These run when
the `coi` image exists (`coi build`) and skip, saying so, when it does not.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

import pytest

from coi.errors import IncusError, NotFound
from coi.incus import exec as incus_exec
from coi.incus import instances
from coi.incus.client import Client
from coi.tools import get_tool

pytestmark = pytest.mark.slow
IMAGE = "coi"


@pytest.fixture(scope="module")
def coi_container(incus: Client) -> Iterator[str]:
    try:
        incus.get(f"/images/aliases/{IMAGE}")
    except NotFound:
        pytest.skip(f"no `{IMAGE}` image on this host (build it with `coi build`)")
    name = f"coi-t{uuid.uuid4().hex[:8]}-contract"
    instances.create(incus, name, image=IMAGE, start=True, config={"raw.idmap": "both 0 1000"})
    try:
        yield name
    finally:
        with contextlib.suppress(IncusError):
            instances.delete(incus, name, force=True, missing_ok=True)


def run(incus: Client, name: str, script: str) -> str:
    result = incus_exec.run(incus, name, ["bash", "-lc", script], user=1000, group=1000,
                            env={"HOME": "/home/code", "PATH": "/usr/local/bin:/usr/bin:/bin"},
                            cwd="/home/code", timeout=120)
    assert result.exit_code == 0, (script, result.stderr.decode(errors="replace"))
    return result.stdout.decode(errors="replace")


def test_claude_has_the_flags_the_adapter_uses(incus: Client, coi_container: str) -> None:
    assert run(incus, coi_container, "claude --version").strip()
    help_text = run(incus, coi_container, "claude --help")
    claude = get_tool("claude")
    used = {*claude.start_argv("claude", "ID", bypass=True),
            *claude.resume_argv("claude", "ID", bypass=True),
            *claude.resume_argv("claude", None, bypass=True),
            *claude.headless_argv("claude", "P", bypass=True)}
    for flag in sorted(f for f in used if f.startswith("-")):
        assert flag in help_text, f"claude --help does not mention {flag}"
    assert "bypassPermissions" in help_text


def test_opencode_has_the_flags_and_data_dir_the_adapter_uses(incus: Client,
                                                              coi_container: str) -> None:
    assert run(incus, coi_container, "opencode --version").strip()
    # opencode prints its help on stderr.
    help_text = run(incus, coi_container, "opencode --help 2>&1")
    run_help = run(incus, coi_container, "opencode run --help 2>&1")
    opencode = get_tool("opencode")
    interactive = {*opencode.start_argv("opencode", "ID", bypass=True),
                   *opencode.resume_argv("opencode", "ID", bypass=True),
                   *opencode.resume_argv("opencode", None, bypass=True)}
    for flag in sorted(f for f in interactive if f.startswith("-")):
        assert flag in help_text, f"opencode --help does not mention {flag}"
    headless = opencode.headless_argv("opencode", "P", bypass=True)
    assert headless[1] == "run", headless
    for flag in sorted(f for f in headless if f.startswith("-")):
        assert flag in run_help, f"opencode run --help does not mention {flag}"
    state = get_tool("opencode").state_dir
    run(incus, coi_container, f"opencode --version >/dev/null; test -d ~/{state}")
