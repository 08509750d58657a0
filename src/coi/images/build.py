"""Build an image: a recipe run as root in a fresh container, published as a new version.

    result = build_image(client, request, HostPaths.for_user(), emit)

The image is published as `<alias>-YYYYMMDD-HHMMSS`, and only then does `<alias>` move
to it: a build that fails or is interrupted leaves the previous image and its alias as
they were, and removes its container (try/finally; the CLI turns SIGTERM into an
exception so this holds for `kill` too). Builds of one alias take turns (a file lock),
and each build first clears what dead builds left behind (see `stale`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from coi.errors import CoiError, CoiTimeout, NotFound
from coi.images import buildbox, buildlog, stale
from coi.images.buildlog import BuildOutput
from coi.images.events import BuildEvent, BuildFailed, Clock, Emit, Kind, ignore
from coi.images.retention import prune_versions
from coi.images.sources import BUILD_DIR, BuildFile, Recipe
from coi.images.stale import Locks
from coi.images.versions import versioned_name
from coi.incus import images
from coi.incus.client import Client
from coi.incus.images import Image
from coi.state import coi_home, file_lock

Rebuild = Literal["missing", "always", "stale"]
PROP_RECIPE = "coi.recipe"
PROP_RECIPE_NAME = "coi.recipe.name"
PROP_BASE = "coi.base"
PROP_BASE_FP = "coi.base.fingerprint"
PROP_BUILT_AT = "coi.built_at"
TURN_TIMEOUT = 3600.0  # how long to wait for another build of the same alias
PUBLISH_TIMEOUT = 1800.0


@dataclass(frozen=True)
class BuildRequest:
    """One image to build. `rebuild`: build when the alias is missing, always, or also
    when the recipe or base image changed since the existing image was built ("stale")."""

    alias: str
    base: str
    recipe: Recipe
    description: str
    env: Mapping[str, str] = field(default_factory=dict)
    properties: Mapping[str, str] = field(default_factory=dict)
    extra_files: tuple[BuildFile, ...] = ()  # e.g. the host's CA certificates
    workspace: Path | None = None  # read-only at /workspace during the build
    probe_hosts: tuple[str, ...] = ()  # must resolve before the build starts
    rebuild: Rebuild = "missing"
    keep_versions: int = 2
    compression: str = "none"  # fast; these images never leave the host
    timeout: float | None = None  # for the recipe run
    base_hint: str = "`coi image list` shows the images there are"


@dataclass(frozen=True)
class HostPaths:
    """Where a build writes on the host: the invoking user's ~/.coi/logs and locks."""

    logs: Path
    locks: Locks

    @classmethod
    def for_user(cls) -> HostPaths:
        from coi.host.invoker import invoking_user, running_as_root

        user = invoking_user()
        owner = (user.uid, user.gid) if running_as_root() and not user.is_root else None
        home = coi_home(user.home)
        return cls(home / "logs", Locks(home / "locks", owner))


@dataclass(frozen=True)
class BuildResult:
    alias: str
    version: str  # the timestamped alias of this version ("" if it has none)
    fingerprint: str
    size: int  # bytes
    seconds: float
    built: bool  # False: the existing image was kept
    reason: str  # why it was built, or why it was kept
    built_at: str
    base: str = ""
    log_path: Path | None = None

    def to_json(self) -> dict[str, Any]:
        """The stable shape of `coi build --json` (documented in docs/images.md)."""
        data = asdict(self)
        data["log_path"] = str(self.log_path) if self.log_path else None
        data["seconds"] = round(self.seconds, 1)
        return data


def build_image(client: Client, request: BuildRequest, paths: HostPaths,
                emit: Emit = ignore) -> BuildResult:
    clock = Clock()
    with _turn(paths.locks, request.alias, emit, clock):
        existing = find_image(client, request.alias)
        if existing is not None and request.rebuild == "missing":
            return kept(request, existing, clock)
        base_fp = base_fingerprint(client, request)
        reason = why_build(request, existing, base_fp)
        if reason is None:
            assert existing is not None
            return kept(request, existing, clock)
        return _Job(client, request, paths, emit, clock, base_fp, reason).run()


@contextlib.contextmanager
def _turn(locks: Locks, alias: str, emit: Emit, clock: Clock) -> Iterator[None]:
    """Builds of one alias run one after the other (e.g. parallel test workers)."""
    path = locks.image(alias)
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(file_lock(path, timeout=0, owner=locks.owner))
        except CoiTimeout:
            emit_note(emit, clock, f"waiting for another build of {alias} to finish")
            stack.enter_context(file_lock(path, timeout=TURN_TIMEOUT, owner=locks.owner))
        yield


def emit_note(emit: Emit, clock: Clock, text: str) -> None:
    emit(BuildEvent(Kind.NOTE, text, clock.elapsed()))


def find_image(client: Client, alias: str) -> Image | None:
    try:
        return images.get_image(client, alias)
    except NotFound:
        return None


def base_fingerprint(client: Client, request: BuildRequest) -> str:
    try:
        return images.alias_target(client, request.base)
    except NotFound:
        raise NotFound(f"the base image {request.base} does not exist",
                       hint=request.base_hint) from None


def why_build(request: BuildRequest, existing: Image | None, base_fp: str) -> str | None:
    """Why the image must be built now, or None to keep the existing one."""
    if existing is None:
        return f"there is no image {request.alias} yet"
    if request.rebuild == "always":
        return "a rebuild was asked for"
    if request.rebuild == "stale":
        if existing.properties.get(PROP_RECIPE) != request.recipe.content_hash():
            return f"the recipe changed since {request.alias} was built"
        if existing.properties.get(PROP_BASE_FP) != base_fp:
            return f"the base image {request.base} changed since {request.alias} was built"
    return None


def kept(request: BuildRequest, image: Image, clock: Clock) -> BuildResult:
    built_at = image.properties.get(PROP_BUILT_AT) or image.created_at
    version = next((a for a in image.aliases if a.startswith(f"{request.alias}-")), "")
    return BuildResult(
        alias=request.alias, version=version, fingerprint=image.fingerprint,
        size=image.size, seconds=clock.elapsed(), built=False, built_at=built_at,
        reason=f"image {request.alias} already exists (built {built_at})",
        base=image.properties.get(PROP_BASE, ""),
    )


@dataclass
class _Job:
    """One build, from its log file to the moved alias."""

    client: Client
    request: BuildRequest
    paths: HostPaths
    emit: Emit
    clock: Clock
    base_fp: str
    reason: str
    when: datetime = field(default_factory=lambda: datetime.now(UTC))
    container: str = field(default_factory=buildbox.new_name)

    @property
    def version(self) -> str:
        return versioned_name(self.request.alias, self.when)

    def run(self) -> BuildResult:
        log = buildlog.log_path(self.paths.logs, self.request.alias, self.when)
        with buildlog.open_log(log, self.paths.locks.owner) as stream:
            out = BuildOutput(stream, self.emit, self.clock)
            out.event(Kind.NOTE, f"building {self.request.alias}: {self.reason}")
            out.event(Kind.NOTE, f"build log: {log}")
            for note in stale.sweep(self.client, self.paths.locks):
                out.event(Kind.NOTE, note)
            fingerprint = self._contained(out, log)
            self._name(out, fingerprint)
        for old in buildlog.old_logs(self.paths.logs, self.request.alias):
            old.unlink(missing_ok=True)
        image = images.get_image(self.client, fingerprint)
        return BuildResult(
            alias=self.request.alias, version=self.version, fingerprint=fingerprint,
            size=image.size, seconds=self.clock.elapsed(), built=True, reason=self.reason,
            built_at=self.when.isoformat(), base=self.request.base, log_path=log,
        )

    def _contained(self, out: BuildOutput, log: Path) -> str:
        """Everything that needs the build container; it is gone when this returns."""
        with stale.build_lock(self.paths.locks, self.container):
            try:
                return self._make(out, log)
            except BuildFailed:
                raise
            except CoiError as exc:
                out.event(Kind.NOTE, f"failed: {exc}")
                raise BuildFailed(f"building {self.request.alias} failed: {exc}", log,
                                  buildlog.tail(log)) from exc
            finally:
                gone = buildbox.remove(self.client, self.container)
                out.event(Kind.NOTE, f"removed the build container {self.container}" if gone
                          else f"could not remove {self.container}; the next build will")

    def _make(self, out: BuildOutput, log: Path) -> str:
        req, name = self.request, self.container
        out.event(Kind.STEP, f"start the build container {name} from {req.base}")
        buildbox.create(self.client, name, self.base_fp, req.workspace)
        out.event(Kind.STEP, "wait for the container to boot and reach the network")
        buildbox.wait_ready(self.client, name, req.probe_hosts)
        out.event(Kind.STEP, "copy the build files into the container")
        buildbox.push(self.client, name, (*req.recipe.files, *req.extra_files))
        out.event(Kind.STEP, f"run {req.recipe.label}")
        env = {"COI_BUILD_DIR": BUILD_DIR, **req.env}
        code = buildbox.run(self.client, name, req.recipe.argv, env, out,
                            timeout=req.timeout)
        if code != 0:
            out.event(Kind.NOTE, f"{req.recipe.label} failed with exit status {code}")
            raise BuildFailed(f"{req.recipe.label} failed with exit status {code}", log,
                              buildlog.tail(log))
        buildbox.remove_dir(self.client, name, BUILD_DIR)
        out.event(Kind.STEP, "stop the build container")
        buildbox.stop(self.client, name)
        out.event(Kind.STEP, f"publish {self.version}")
        return images.publish(self.client, name, aliases=[self.version],
                              properties=self.properties(), compression=req.compression,
                              timeout=PUBLISH_TIMEOUT)

    def properties(self) -> dict[str, str]:
        req = self.request
        return {
            "description": req.description, PROP_RECIPE: req.recipe.content_hash(),
            PROP_RECIPE_NAME: req.recipe.name, PROP_BASE: req.base, PROP_BASE_FP: self.base_fp,
            PROP_BUILT_AT: self.when.isoformat(), stale.BUILD_PROPERTY: self.container,
            **req.properties,
        }

    def _name(self, out: BuildOutput, fingerprint: str) -> None:
        alias = self.request.alias
        out.event(Kind.STEP, f"point {alias} at {self.version}")
        images.set_alias(self.client, alias, fingerprint)
        for note in prune_versions(self.client, alias, self.request.keep_versions):
            out.event(Kind.NOTE, note)
