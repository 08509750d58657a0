"""How long image builds take: the full `coi` image from coi-base, a custom image on top of
it, the first and a later launch of the result, and publishing without vs with compression.

Builds go through coi's own builder (coi.images) under throw-away aliases, which are
deleted at the end (`--keep` keeps them). Needs the daemon and coi-base (`coi setup`).
Usage: .venv/bin/python bench/build.py [--reuse ALIAS] [--no-compression] [--json-out FILE]
  --reuse ALIAS     skip the full build and measure on an existing image
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import secrets
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from coi.errors import NotFound
from coi.images import buildbox, plans
from coi.images.build import BuildRequest, HostPaths, build_image
from coi.images.events import BuildEvent, Kind
from coi.images.sources import host_ca_files
from coi.incus import images, instances
from coi.incus.client import Client

CUSTOM_SCRIPT = "#!/bin/sh\nset -e\necho bench > /etc/coi-bench-marker\n"


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    started = time.monotonic()
    value = action()
    return time.monotonic() - started, value


def steps_of(events: list[BuildEvent], total: float) -> dict[str, float]:
    """Seconds per builder step and recipe phase, from the event stamps."""
    marks = [e for e in events if e.kind in (Kind.STEP, Kind.PHASE)]
    ends = [e.elapsed for e in marks[1:]] + [total]
    return {e.text: round(end - e.elapsed, 1) for e, end in zip(marks, ends, strict=True)}


def build(client: Client, request: BuildRequest) -> dict[str, Any]:
    events: list[BuildEvent] = []
    seconds, result = timed(lambda: build_image(client, request, HostPaths.for_user(),
                                                events.append))
    return {"alias": result.alias, "seconds": round(seconds, 1), "size": result.size,
            "fingerprint": result.fingerprint, "steps": steps_of(events, seconds)}


def launch(client: Client, image: str) -> float:
    name = f"coi-bench-{secrets.token_hex(4)}"
    try:
        seconds, _ = timed(lambda: instances.create(client, name, image=image, start=True,
                                                    config=buildbox.NESTING, timeout=600))
        return round(seconds, 1)
    finally:
        instances.delete(client, name, force=True, missing_ok=True)


def publish(client: Client, name: str, compression: str | None) -> str:
    """Publish and poll the operation: Incus 6.0.4 answers a /wait that outlasts its
    timeout with an error, which the client's wait (30 s chunks) does not survive yet."""
    body: dict[str, Any] = {"source": {"type": "instance", "name": name}}
    if compression:
        body["compression_algorithm"] = compression
    operation = client.request("POST", "/images", body).operation
    while (op := client.get(str(operation)))["status"] == "Running":
        time.sleep(0.5)
    if op["status"] != "Success":
        raise RuntimeError(f"publish failed: {op.get('err')}")
    return str(op["metadata"]["fingerprint"])


def publish_times(client: Client, image: str) -> dict[str, float]:
    """Publish one stopped container from `image` with each compression; seconds each."""
    name = f"coi-bench-{secrets.token_hex(4)}"
    instances.create(client, name, image=image, timeout=600)
    times = {}
    try:
        for label, algorithm in (("none", "none"), ("default (gzip)", None)):
            seconds, fingerprint = timed(functools.partial(publish, client, name, algorithm))
            times[label] = round(seconds, 1)
            with contextlib.suppress(NotFound):
                images.delete_image(client, fingerprint)
    finally:
        instances.delete(client, name, force=True, missing_ok=True)
    return times


@contextlib.contextmanager
def throwaway(client: Client, keep: bool) -> Iterator[list[str]]:
    names: list[str] = []
    try:
        yield names
    finally:
        if not keep:
            for image in images.list_images(client):
                if any(a == n or a.startswith(f"{n}-") for n in names for a in image.aliases):
                    images.delete_image(client, image.fingerprint)
            for n in names:
                HostPaths.for_user().locks.image(n).unlink(missing_ok=True)


def run(client: Client, args: argparse.Namespace, names: list[str]) -> dict[str, Any]:
    tag = secrets.token_hex(3)
    doc: dict[str, Any] = {"benchmark": "build"}
    full = args.reuse
    if full is None:
        full = f"bench-coi-{tag}"
        names.append(full)
        request = plans.default_request(alias=full, force=True)
        doc["full_build"] = build(client, request)
        doc["full_build"]["host_ca_files"] = len(host_ca_files())
    doc["first_launch_s"] = launch(client, full)
    doc["later_launch_s"] = launch(client, full)
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "bench.sh"
        script.write_text(CUSTOM_SCRIPT)
        custom = f"bench-custom-{tag}"
        names.append(custom)
        doc["custom_build"] = build(client, plans.custom_request(custom, script, base=full))
    if not args.no_compression:
        doc["publish_s"] = publish_times(client, full)
    return doc


def table(doc: dict[str, Any]) -> str:
    rows = []
    for key in ("full_build", "custom_build"):
        if key in doc:
            rows.append((key.replace("_", " "), f"{doc[key]['seconds']:.1f}s",
                         f"{doc[key]['size'] / 2**30:.2f} GiB"))
    rows.append(("first launch (unpack)", f"{doc['first_launch_s']:.1f}s", ""))
    rows.append(("later launch (CoW)", f"{doc['later_launch_s']:.1f}s", ""))
    for label, seconds in doc.get("publish_s", {}).items():
        rows.append((f"publish, compression {label}", f"{seconds:.1f}s", ""))
    lines = [f"{'what':<38} {'time':>8} {'size':>10}"]
    lines += [f"{a:<38} {b:>8} {c:>10}" for a, b, c in rows]
    for key in ("full_build", "custom_build"):
        if key in doc:
            lines.append(f"\n{key} steps:")
            lines += [f"  {s:<60} {t:>6.1f}s" for s, t in doc[key]["steps"].items()]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reuse", metavar="ALIAS", help="measure on this existing image")
    parser.add_argument("--no-compression", action="store_true",
                        help="skip the publish comparison (gzip of ~2 GiB takes minutes)")
    parser.add_argument("--keep", action="store_true", help="keep the images built")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    with Client(timeout=120.0) as client, throwaway(client, args.keep) as names:
        doc = run(client, args, names)
    print(table(doc))
    text = json.dumps(doc, indent=2)
    print(text)
    if args.json_out:
        args.json_out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
