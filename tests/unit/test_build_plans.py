"""Build requests from flags: tools, apt settings, names, and the three kinds of build."""

from __future__ import annotations

from pathlib import Path

import pytest

from coi.errors import NotFound, UsageError
from coi.images import plans
from coi.images.plans import AptSettings, check_name, parse_tools


@pytest.mark.parametrize(("text", "tools"), [
    (None, ("claude", "opencode")),
    ("claude", ("claude",)),
    (" Opencode , aider,codex ", ("opencode", "aider", "codex")),
    ("claude,claude", ("claude",)),
    ("none", ()),
    ("", ()),
])
def test_parse_tools(text: str | None, tools: tuple[str, ...]) -> None:
    assert parse_tools(text) == tools


def test_unknown_tool_names_the_choices() -> None:
    with pytest.raises(UsageError, match=r"unknown tool.*: cursor") as info:
        parse_tools("claude,cursor")
    assert "claude, opencode, aider, codex" in (info.value.hint or "")


def test_apt_flags_win_over_the_environment() -> None:
    env = {"COI_APT_MIRROR": "http://env-mirror/debian", "COI_APT_PROXY": "http://env:3142"}
    assert AptSettings.choose(None, None, env) == AptSettings(
        "http://env-mirror/debian", "http://env:3142")
    chosen = AptSettings.choose("https://flag/debian", None, env)
    assert chosen.mirror == "https://flag/debian"
    assert chosen.proxy == "http://env:3142"
    assert AptSettings.choose(None, None, {}) == AptSettings("", "")


@pytest.mark.parametrize("bad", ["deb.debian.org", "ftp://x/debian", "http://"])
def test_apt_urls_are_checked(bad: str) -> None:
    with pytest.raises(UsageError, match="--apt-mirror must be an http"):
        AptSettings.choose(bad, None, {})


def test_probe_hosts_prefer_the_proxy() -> None:
    assert AptSettings("http://mirror.lan/debian", "http://cache.lan:3142").probe_hosts() == \
        ("cache.lan",)
    assert AptSettings("http://mirror.lan/debian", "").probe_hosts() == ("mirror.lan",)
    assert AptSettings().probe_hosts() == ()


@pytest.mark.parametrize("name", ["", "-x", "a/b", "a b", "x" * 64, "coi:1"])
def test_bad_image_names(name: str) -> None:
    with pytest.raises(UsageError, match="invalid image name"):
        check_name(name)


def test_default_request() -> None:
    req = plans.default_request(tools=("claude",), apt=AptSettings("http://m/debian", ""),
                                host_ca=False, force=True)
    assert (req.alias, req.base, req.recipe.name, req.rebuild) == \
        ("coi", "coi-base", "coi", "always")
    assert req.env == {"COI_APT_MIRROR": "http://m/debian", "COI_APT_PROXY": "",
                       "COI_TOOLS": "claude", "COI_CODE_UID": "1000"}
    assert req.properties == {"coi.tools": "claude"}
    assert req.extra_files == ()
    assert req.probe_hosts == ("m",)
    assert req.compression == "none"
    assert plans.default_request().rebuild == "missing"


def test_custom_request(tmp_path: Path) -> None:
    script = tmp_path / "rust.sh"
    script.write_text("#!/bin/sh\n")
    req = plans.custom_request("my-rust", script, workspace=tmp_path)
    assert (req.alias, req.base, req.rebuild, req.workspace) == \
        ("my-rust", "coi", "missing", tmp_path)
    assert req.base_hint == "build it first with `coi build`"
    other = plans.custom_request("x", script, base="debian-thing", force=True)
    assert other.rebuild == "always"
    assert "--base" in other.base_hint


def test_custom_request_checks_before_any_container(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="not found"):
        plans.custom_request("ok", tmp_path / "missing.sh")
    with pytest.raises(UsageError):
        plans.custom_request("bad name", tmp_path / "missing.sh")


def test_test_request_is_rebuilt_when_stale_and_keeps_one_version() -> None:
    req = plans.test_request()
    assert (req.alias, req.base, req.recipe.name, req.rebuild, req.keep_versions) == \
        ("coi-test", "coi-base", "test", "stale", 1)


def test_missing_base_without_root_says_run_setup(monkeypatch: pytest.MonkeyPatch) -> None:
    import coi.host.invoker
    import coi.incus.images

    def no_alias(client: object, alias: str) -> str:
        raise NotFound(alias)

    monkeypatch.setattr(coi.incus.images, "alias_target", no_alias)
    monkeypatch.setattr(coi.host.invoker, "running_as_root", lambda: False)
    with pytest.raises(NotFound, match="the base image coi-base does not exist") as info:
        plans.ensure_base(object(), "coi-base")  # type: ignore[arg-type]
    assert info.value.hint == "run `sudo coi setup` to make it"


def test_present_base_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    import coi.incus.images

    monkeypatch.setattr(coi.incus.images, "alias_target", lambda client, alias: "f" * 64)
    notes: list[str] = []
    plans.ensure_base(object(), "coi-base", on_note=notes.append)  # type: ignore[arg-type]
    assert notes == []


def test_missing_base_as_root_is_made_as_setup_does(monkeypatch: pytest.MonkeyPatch) -> None:
    import coi.host.invoker
    import coi.host.steps_incus
    import coi.incus.images

    def no_alias(client: object, alias: str) -> str:
        raise NotFound(alias)

    made: list[tuple[str, str]] = []

    class FakeBaseImage:
        def __init__(self, host: object) -> None:
            opts = host.options  # type: ignore[attr-defined]
            made.append((opts.base_alias, opts.base_source))

        def apply(self) -> str:
            return "imported coi-base (abc): reused the cached rootfs in 3 s"

    monkeypatch.setattr(coi.incus.images, "alias_target", no_alias)
    monkeypatch.setattr(coi.host.invoker, "running_as_root", lambda: True)
    monkeypatch.setattr(coi.host.steps_incus, "BaseImage", FakeBaseImage)
    notes: list[str] = []
    plans.ensure_base(object(), "coi-base", "local", on_note=notes.append)  # type: ignore[arg-type]
    assert made == [("coi-base", "local")]
    assert notes == ["the base image coi-base is missing: making it as `coi setup` does",
                     "imported coi-base (abc): reused the cached rootfs in 3 s"]
