"""A session container's definition (config keys and devices) and bringing it up.

A new container is created and started in ONE request carrying all of it. A reused one
(persistent, or a resumed persistent session) gets the same definition written in one
PUT (guarded by its ETag) before it starts, so this session's mounts and owner mapping
apply, not the last one's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from coi.errors import IncusNotFound, NotFound
from coi.incus.client import quote
from coi.session.listing import KEY_IMAGE, KEY_PERSISTENT, KEY_SESSION, KEY_TOOL, KEY_WORKSPACE
from coi.session.ownership import OwnerMapping

if TYPE_CHECKING:
    from coi.incus.client import Client
    from coi.session.isolation import Guard
    from coi.session.plan import SessionPlan

# Keys of the definition coi owns: rewritten on reuse (others, e.g. volatile.*, stay).
MANAGED_PREFIXES = ("raw.idmap", "raw.seccomp", "security.", "user.coi.", "limits.")


@dataclass(frozen=True)
class Definition:
    config: dict[str, str]
    devices: dict[str, dict[str, str]]


def definition(plan: SessionPlan, mapping: OwnerMapping, session_id: str,
               persistent: bool, guard: Guard) -> Definition:
    """Everything the container is made of: security and limit keys, the owner mapping,
    coi's labels; the NIC, the (protected) workspace, the root disk and extra mounts."""
    config = {
        **plan.security, **guard.config, **mapping.config(), KEY_WORKSPACE: plan.workspace,
        KEY_PERSISTENT: "true" if persistent else "false", KEY_IMAGE: plan.image,
    }
    if session_id:  # a plain `coi run` has no session (no tool state to save)
        config |= {KEY_SESSION: session_id, KEY_TOOL: plan.tool.name}
    # No `shift`: raw.idmap maps the workspace owner to code exactly (see ownership.py).
    return Definition(config, {**guard.devices, **plan.mounts})


def check_image(client: Client, image: str) -> None:
    """NotFound with the fix when the image is missing, before anything is created."""
    try:
        client.get(f"/images/aliases/{quote(image)}", context=f"image {image}")
        return
    except NotFound:
        pass
    try:
        client.get(f"/images/{quote(image)}", context=f"image {image}")  # a fingerprint
    except NotFound:
        hint = "run `coi build`" if image == "coi" else \
            "run `coi build`, or see `coi image list --all` for the images you have"
        raise NotFound(f"image '{image}' not found", hint=hint) from None


def create(client: Client, name: str, image: str, spec: Definition, *,
           ephemeral: bool = False) -> None:
    """Create and start the container in one request."""
    from coi.incus import instances

    try:
        instances.create(client, name, image=image, config=spec.config, devices=spec.devices,
                         start=True, ephemeral=ephemeral, description="coi session",
                         timeout=300)
    except IncusNotFound:
        raise NotFound(f"image '{image}' not found", hint="run `coi build`") from None


def reconfigure(client: Client, name: str, spec: Definition) -> None:
    """Rewrite a stopped container's coi-owned config and its devices, in one PUT."""
    resp = client.request("GET", f"/instances/{quote(name)}", context=f"instance {name}")
    current = dict(resp.metadata)
    kept = {k: v for k, v in (current.get("config") or {}).items()
            if not k.startswith(MANAGED_PREFIXES)}
    body = {key: current[key] for key in ("architecture", "ephemeral", "profiles",
                                          "stateful", "description") if key in current}
    body |= {"config": kept | spec.config, "devices": spec.devices}
    headers = {"If-Match": resp.headers["etag"]} if "etag" in resp.headers else {}
    client.sync("PUT", f"/instances/{quote(name)}", body, headers=headers,
                context=f"configure {name}")
