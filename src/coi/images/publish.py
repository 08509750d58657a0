"""`coi image publish`: turn a container into an image under an alias.

The container is stopped first if it runs (gracefully, then forcibly after a timeout):
Incus publishes stopped instances only, and a clean shutdown gives a consistent
filesystem. It stays stopped afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass

from coi.errors import (
    AlreadyExists,
    CoiError,
    CoiTimeout,
    IncusError,
    IncusNotFound,
    NotFound,
)
from coi.incus import images, instances
from coi.incus.client import Client
from coi.incus.instances import Instance

STOP_TIMEOUT = 30  # seconds a clean shutdown may take before the container is killed


@dataclass(frozen=True)
class PublishRequest:
    container: str
    alias: str
    description: str = ""
    compression: str | None = None  # None: the daemon's default (`images.compression_algorithm`)
    force: bool = False  # move the alias if it exists already
    stop_timeout: int = STOP_TIMEOUT


@dataclass(frozen=True)
class Published:
    fingerprint: str
    alias: str
    stopped: bool  # the container was running and coi stopped it


def publish(client: Client, request: PublishRequest) -> Published:
    container = _container(client, request.container)
    if not request.force:
        _check_alias_free(client, request.alias)
    stopped = container.status != "Stopped"
    if stopped:
        _refuse_ephemeral(container)
        stop(client, container.name, request.stop_timeout)
    properties = {"description": request.description} if request.description else {}
    fingerprint = images.publish(client, container.name, properties=properties,
                                 compression=request.compression or None)
    if request.force:
        images.set_alias(client, request.alias, fingerprint, request.description)
    else:
        _create_alias(client, request.alias, fingerprint, request.description)
    return Published(fingerprint, request.alias, stopped)


def _container(client: Client, name: str) -> Instance:
    try:
        return instances.get(client, name)
    except IncusNotFound as exc:
        raise IncusNotFound(f"no container named {name!r}", hint="`coi list` shows containers",
                            status_code=404) from exc


def _alias_taken(client: Client, alias: str) -> bool:
    try:
        images.alias_target(client, alias)
    except NotFound:
        return False
    return True


def _check_alias_free(client: Client, alias: str) -> None:
    if _alias_taken(client, alias):
        raise AlreadyExists(f"image alias {alias!r} exists already",
                            hint="pass --force to move it to the new image")


def _create_alias(client: Client, alias: str, fingerprint: str, description: str) -> None:
    try:
        images.create_alias(client, alias, fingerprint, description)
    except AlreadyExists as exc:  # taken while we published: keep the new image, say so
        raise AlreadyExists(
            f"image alias {alias!r} was created by someone else meanwhile; the new image "
            f"is {fingerprint[:12]}, without an alias",
            hint=f"`coi image delete {fingerprint[:12]}` removes it") from exc


def _refuse_ephemeral(container: Instance) -> None:
    if container.ephemeral:
        raise CoiError(f"container {container.name!r} is ephemeral and running: stopping it "
                       "would delete it",
                       hint="publish a container that is persistent (not ephemeral)")


def stop(client: Client, name: str, timeout: int = STOP_TIMEOUT) -> None:
    """Stop cleanly within `timeout` seconds, else kill it."""
    try:
        instances.stop(client, name, timeout=timeout)
    except IncusNotFound:
        raise
    except (IncusError, CoiTimeout):
        if instances.get(client, name).status != "Stopped":
            instances.stop(client, name, force=True)
