"""The builds coi knows: the default `coi` image, custom images, and the test image.

Each function turns what the user asked for into a BuildRequest (validated here, so a
bad flag fails before any container exists). `ensure_test_image` is what the
integration suite's `test_image` fixture calls.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from coi.errors import NotFound, UsageError
from coi.images import sources
from coi.images.build import BuildRequest, BuildResult, HostPaths, build_image
from coi.images.events import Emit, ignore
from coi.incus.client import Client

KNOWN_TOOLS = ("claude", "opencode", "aider", "codex")
DEFAULT_TOOLS = ("claude", "opencode")
DEFAULT_BASE = "coi-base"
DEFAULT_ALIAS = "coi"
TEST_ALIAS = "coi-test"
CODE_UID = "1000"
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")


@dataclass(frozen=True)
class AptSettings:
    """Where apt in the build container downloads from (flags, else COI_APT_* env)."""

    mirror: str = ""
    proxy: str = ""

    @classmethod
    def choose(cls, mirror: str | None, proxy: str | None,
               environ: Mapping[str, str] | None = None) -> AptSettings:
        env = os.environ if environ is None else environ
        return cls(
            mirror=check_url("--apt-mirror", mirror or env.get("COI_APT_MIRROR", "")),
            proxy=check_url("--apt-proxy", proxy or env.get("COI_APT_PROXY", "")),
        )

    def env(self) -> dict[str, str]:
        return {"COI_APT_MIRROR": self.mirror, "COI_APT_PROXY": self.proxy}

    def probe_hosts(self) -> tuple[str, ...]:
        """What must resolve before apt can work: the proxy, else the mirror, else
        nothing given (the container's own apt sources are checked)."""
        chosen = self.proxy or self.mirror
        host = urllib.parse.urlsplit(chosen).hostname if chosen else None
        return (host,) if host else ()


def check_url(flag: str, value: str) -> str:
    if not value:
        return ""
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"{flag} must be an http:// or https:// URL, not {value!r}")
    return value


def parse_tools(text: str | None) -> tuple[str, ...]:
    """`claude,opencode` → ("claude", "opencode"); "none" or "" → no AI tool."""
    if text is None:
        return DEFAULT_TOOLS
    chosen = [t.strip().lower() for t in text.split(",") if t.strip()]
    if chosen == ["none"]:
        return ()
    unknown = [t for t in chosen if t not in KNOWN_TOOLS]
    if unknown:
        raise UsageError(f"unknown tool(s): {', '.join(unknown)}",
                         hint=f"choose from {', '.join(KNOWN_TOOLS)} (or none)")
    return tuple(dict.fromkeys(chosen))


def check_name(name: str) -> str:
    if not NAME_PATTERN.fullmatch(name):
        raise UsageError(f"invalid image name {name!r}",
                         hint="use letters, digits, '.', '_' and '-' (at most 63)")
    return name


def default_request(*, alias: str = DEFAULT_ALIAS, base: str = DEFAULT_BASE,
                    tools: tuple[str, ...] = DEFAULT_TOOLS, apt: AptSettings | None = None,
                    host_ca: bool = True, force: bool = False) -> BuildRequest:
    apt = apt or AptSettings()
    listed = ",".join(tools)
    return BuildRequest(
        alias=check_name(alias), base=base, recipe=sources.builtin_recipe("coi"),
        description=f"coi image: dev tools, Docker, gh, AI tools ({listed or 'none'})",
        env={**apt.env(), "COI_TOOLS": listed, "COI_CODE_UID": CODE_UID},
        properties={"coi.tools": listed},
        extra_files=sources.host_ca_files() if host_ca else (),
        probe_hosts=apt.probe_hosts(), rebuild="always" if force else "missing",
        base_hint="run `sudo coi setup` to make it",
    )


def custom_request(name: str, script: Path, *, base: str = DEFAULT_ALIAS,
                   force: bool = False, workspace: Path | None = None) -> BuildRequest:
    hint = ("build it first with `coi build`" if base == DEFAULT_ALIAS
            else "pick an existing image with --base (`coi image list` shows them)")
    return BuildRequest(
        alias=check_name(name), base=base, recipe=sources.custom_recipe(script),
        description=f"coi custom image {name} (script {script.name}, base {base})",
        env={"COI_CODE_UID": CODE_UID}, workspace=workspace,
        rebuild="always" if force else "missing", base_hint=hint,
    )


def test_request(alias: str = TEST_ALIAS, base: str = DEFAULT_BASE) -> BuildRequest:
    """The slim image of coi's integration tests, rebuilt when its recipe changes."""
    return BuildRequest(
        alias=alias, base=base, recipe=sources.builtin_recipe("test"),
        description="coi test image: code user, sudo, tmux, dummy, python3-minimal",
        env={"COI_CODE_UID": CODE_UID}, rebuild="stale", keep_versions=1,
        base_hint="run `sudo coi setup` to make it",
    )


def ensure_test_image(client: Client, alias: str = TEST_ALIAS, base: str = DEFAULT_BASE,
                      emit: Emit = ignore) -> BuildResult:
    """Make sure `alias` holds the current test image (built once, then reused while the
    recipe and base stay the same). Safe to call from parallel processes."""
    return build_image(client, test_request(alias, base), HostPaths.for_user(), emit)


def ensure_base(client: Client, alias: str = DEFAULT_BASE, source: str = "auto",
                on_note: Callable[[str], None] = lambda text: None) -> None:
    """Make the base image if it is missing, as `coi setup` does (which needs root)."""
    from coi.host.invoker import running_as_root
    from coi.incus.images import alias_target

    try:
        alias_target(client, alias)
        return
    except NotFound:
        pass
    if not running_as_root():
        raise NotFound(f"the base image {alias} does not exist",
                       hint="run `sudo coi setup` to make it")
    from coi.host.context import Host, SetupOptions
    from coi.host.steps_incus import BaseImage

    on_note(f"the base image {alias} is missing: making it as `coi setup` does")
    host = Host(SetupOptions(base_alias=alias, base_source=source), client_=client)
    on_note(BaseImage(host).apply())
