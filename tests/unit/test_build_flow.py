"""The build's course with the daemon faked at the buildbox/images seams: what happens on
success, on a failing script, on an error and on Ctrl-C; when an image is kept."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from coi.errors import CoiTimeout, NotFound
from coi.images import build, buildbox, stale
from coi.images.build import BuildRequest, HostPaths, build_image, why_build
from coi.images.buildlog import BuildOutput
from coi.images.events import BuildEvent, BuildFailed, Kind
from coi.images.sources import BuildFile, Recipe
from coi.images.stale import Locks
from coi.incus.images import Image

RECIPE = Recipe("test", "/var/tmp/coi-build/test.sh", (BuildFile("/var/tmp/coi-build/test.sh",
                                                                  b"#!/bin/bash\n"),))


def image(fingerprint: str, *aliases: str, **properties: str) -> Image:
    return Image(fingerprint=fingerprint, aliases=aliases, properties=dict(properties),
                 created_at="2026-01-01T00:00:00Z", uploaded_at="2026-01-01T00:00:00Z",
                 size=1234, architecture="x86_64", public=False, type="container")


class Daemon:
    """Just enough of a daemon for one build, recording what was done to it."""

    def __init__(self, script: Callable[[BuildOutput], int] | None = None) -> None:
        self.images: dict[str, Image] = {"coi-base": image("b" * 64, "coi-base")}
        self.calls: list[str] = []
        self.containers: set[str] = set()
        self.script = script or (lambda out: 0)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(buildbox, "create", self.create)
        monkeypatch.setattr(buildbox, "wait_ready", lambda c, n, hosts: self.calls.append("ready"))
        monkeypatch.setattr(buildbox, "push", lambda c, n, items: self.calls.append("push"))
        monkeypatch.setattr(buildbox, "run", self.run)
        monkeypatch.setattr(buildbox, "remove_dir", lambda c, n, p: self.calls.append("rm"))
        monkeypatch.setattr(buildbox, "stop", lambda c, n: self.calls.append("stop"))
        monkeypatch.setattr(buildbox, "remove", self.remove)
        monkeypatch.setattr(build.images, "get_image", self.get_image)
        monkeypatch.setattr(build.images, "alias_target",
                            lambda c, a: self.get_image(c, a).fingerprint)
        monkeypatch.setattr(build.images, "publish", self.publish)
        monkeypatch.setattr(build.images, "set_alias", self.set_alias)
        monkeypatch.setattr(build, "prune_versions", lambda c, a, keep: [])
        monkeypatch.setattr(stale, "sweep", lambda c, locks: [])

    def create(self, client: object, name: str, fingerprint: str, workspace: Path | None) -> None:
        self.calls.append(f"create {fingerprint[:4]}")
        self.containers.add(name)

    def run(self, client: object, name: str, argv: Sequence[str], env: Mapping[str, str],
            out: BuildOutput, *, timeout: float | None = None) -> int:
        self.calls.append("run")
        return self.script(out)

    def remove(self, client: object, name: str) -> bool:
        self.calls.append("remove")
        self.containers.discard(name)
        return True

    def get_image(self, client: object, ref: str) -> Image:
        for img in self.images.values():
            if ref in img.aliases or ref == img.fingerprint:
                return img
        raise NotFound(ref)

    def publish(self, client: object, name: str, *, aliases: Sequence[str],
                properties: Mapping[str, str], **kw: Any) -> str:
        self.calls.append("publish")
        self.images["new"] = image("n" * 64, *aliases, **properties)
        return "n" * 64

    def set_alias(self, client: object, alias: str, fingerprint: str) -> None:
        self.calls.append(f"alias {alias}")
        img = self.images["new"]
        self.images["new"] = image(img.fingerprint, *img.aliases, alias, **img.properties)


def request(**kw: Any) -> BuildRequest:
    return BuildRequest(alias="x", base="coi-base", recipe=RECIPE, description="d", **kw)


@pytest.fixture
def paths(tmp_path: Path) -> HostPaths:
    return HostPaths(tmp_path / "logs", Locks(tmp_path / "locks"))


def test_a_build_runs_in_order_and_moves_the_alias_last(
        monkeypatch: pytest.MonkeyPatch, paths: HostPaths) -> None:
    daemon = Daemon(lambda out: out.stdout(b"::phase:: work\nok\n") or 0)
    daemon.install(monkeypatch)
    events: list[BuildEvent] = []
    result = build_image(object(), request(), paths, events.append)  # type: ignore[arg-type]
    assert daemon.calls == ["create bbbb", "ready", "push", "run", "rm", "stop", "publish",
                            "remove", "alias x"]
    assert result.built and result.alias == "x" and result.fingerprint == "n" * 64
    assert result.version.startswith("x-") and result.size == 1234
    props = daemon.images["new"].properties
    assert props["coi.recipe"] == RECIPE.content_hash()
    assert props["coi.base.fingerprint"] == "b" * 64
    assert props["coi.build"].startswith("coi-build-")
    assert (Kind.PHASE, "work") in [(e.kind, e.text) for e in events]
    assert result.log_path is not None and "ok\n" in result.log_path.read_text()
    assert not daemon.containers and not list(paths.locks.directory.glob("coi-build-*"))


def test_a_failing_script_leaves_no_container_and_no_alias(
        monkeypatch: pytest.MonkeyPatch, paths: HostPaths) -> None:
    daemon = Daemon(lambda out: out.stderr(b"E: Unable to locate package nope\n") or 100)
    daemon.install(monkeypatch)
    with pytest.raises(BuildFailed) as info:
        build_image(object(), request(), paths)  # type: ignore[arg-type]
    assert str(info.value).startswith("the test recipe failed with exit status 100 "
                                      "(see the build log: ")
    assert "E: Unable to locate package nope" in info.value.tail
    assert "publish" not in daemon.calls and "alias x" not in " ".join(daemon.calls)
    assert daemon.calls[-1] == "remove" and not daemon.containers


def test_an_error_on_the_way_becomes_a_build_failure(
        monkeypatch: pytest.MonkeyPatch, paths: HostPaths) -> None:
    daemon = Daemon()
    daemon.install(monkeypatch)

    def no_network(*args: object) -> None:
        raise CoiTimeout("the build container is not ready: cannot resolve deb.debian.org")

    monkeypatch.setattr(buildbox, "wait_ready", no_network)
    with pytest.raises(BuildFailed, match=r"building x failed: the build container is not "
                                          r"ready: cannot resolve deb\.debian\.org"):
        build_image(object(), request(), paths)  # type: ignore[arg-type]
    assert daemon.calls == ["create bbbb", "remove"]


def test_ctrl_c_still_removes_the_container_and_its_lock(
        monkeypatch: pytest.MonkeyPatch, paths: HostPaths) -> None:
    def interrupted(out: BuildOutput) -> int:
        raise KeyboardInterrupt

    daemon = Daemon(interrupted)
    daemon.install(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        build_image(object(), request(), paths)  # type: ignore[arg-type]
    assert daemon.calls[-1] == "remove" and not daemon.containers
    assert not list(paths.locks.directory.glob("coi-build-*"))
    assert "x" not in {a for img in daemon.images.values() for a in img.aliases}


def test_an_existing_image_is_kept_without_force(
        monkeypatch: pytest.MonkeyPatch, paths: HostPaths) -> None:
    daemon = Daemon()
    daemon.install(monkeypatch)
    daemon.images["x"] = image("e" * 64, "x", "x-20260101-000000",
                               **{"coi.built_at": "2026-01-01T00:00:00+00:00"})
    result = build_image(object(), request(), paths)  # type: ignore[arg-type]
    assert not result.built and daemon.calls == []
    assert result.reason == "image x already exists (built 2026-01-01T00:00:00+00:00)"
    assert result.version == "x-20260101-000000"


def test_a_missing_base_says_which_and_what_to_do(
        monkeypatch: pytest.MonkeyPatch, paths: HostPaths) -> None:
    Daemon().install(monkeypatch)
    req = BuildRequest(alias="x", base="coi", recipe=RECIPE, description="d",
                       base_hint="build it first with `coi build`")
    with pytest.raises(NotFound) as info:
        build_image(object(), req, paths)  # type: ignore[arg-type]
    assert str(info.value) == ("the base image coi does not exist "
                               "(build it first with `coi build`)")


def test_why_build() -> None:
    current = image("e" * 64, "x", **{"coi.recipe": RECIPE.content_hash(),
                                       "coi.base.fingerprint": "b" * 64})
    assert why_build(request(), None, "b" * 64) == "there is no image x yet"
    assert why_build(request(), current, "b" * 64) is None
    assert why_build(request(rebuild="always"), current, "b" * 64) == "a rebuild was asked for"
    assert why_build(request(rebuild="stale"), current, "b" * 64) is None
    assert why_build(request(rebuild="stale"), current, "c" * 64) == \
        "the base image coi-base changed since x was built"
    old = image("e" * 64, "x", **{"coi.recipe": "old", "coi.base.fingerprint": "b" * 64})
    assert why_build(request(rebuild="stale"), old, "b" * 64) == \
        "the recipe changed since x was built"


def test_builds_of_one_name_take_turns(monkeypatch: pytest.MonkeyPatch,
                                       paths: HostPaths) -> None:
    import threading

    from coi.state import file_lock

    daemon = Daemon()
    daemon.install(monkeypatch)
    events: list[BuildEvent] = []
    with file_lock(paths.locks.image("x"), timeout=0):  # another build of x is running
        waiter = threading.Thread(target=lambda: build_image(
            object(), request(), paths, events.append))  # type: ignore[arg-type]
        waiter.start()
        waiter.join(0.3)
        assert waiter.is_alive() and daemon.calls == []  # it waits for its turn
    waiter.join(5)
    assert not waiter.is_alive()
    assert events[0].text == "waiting for another build of x to finish"
    assert "publish" in daemon.calls


def test_an_error_while_holding_the_turn_is_not_mistaken_for_a_busy_lock(
        monkeypatch: pytest.MonkeyPatch, paths: HostPaths) -> None:
    daemon = Daemon()
    daemon.install(monkeypatch)

    def slow_daemon(client: object, ref: str) -> Image:
        raise CoiTimeout("the daemon did not answer")

    monkeypatch.setattr(build.images, "get_image", slow_daemon)
    with pytest.raises(CoiTimeout, match="the daemon did not answer"):
        build_image(object(), request(), paths)  # type: ignore[arg-type]
