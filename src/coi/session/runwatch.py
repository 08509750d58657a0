"""`coi run`'s monitor: a thread that watches the container while its command runs.

`coi run` has no supervisor (it lives exactly as long as its command), so the monitor
runs beside the exec in the same process, on its own Incus connection, with the same
watchman as a session's supervisor (coi.session.watchman): the same detectors, audit
log and responses. A kill stops the container, which ends the exec; the caller then
reports the threat and ends the run (a headless session's record is flagged).
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import threading
import time
from typing import TYPE_CHECKING, Any

from coi.errors import CoiError

if TYPE_CHECKING:
    from pathlib import Path

    from coi.incus.client import Client
    from coi.monitor.findings import Finding
    from coi.session.watchman import Flag

log = logging.getLogger("coi.supervisor")
log.addHandler(logging.NullHandler())  # in `coi run`, the result reports what matters


class RunWatch:
    def __init__(self, client: Client, container: str, settings_json: str, coi_home: Path,
                 flag: Flag | None = None) -> None:
        self.endpoint = client.endpoint
        self.project = client.project
        self.container = container
        self.settings_json = settings_json
        self.coi_home = coi_home
        self.flag = flag
        self.threat: Finding | None = None  # what got the container killed
        self.paused: Finding | None = None
        self._stop_r, self._stop_w = os.pipe()
        self._thread = threading.Thread(target=self._run, daemon=True, name="coi-run-watch")

    def start(self) -> None:
        if self.settings_json:
            self._thread.start()

    def stop(self) -> None:
        """Stop watching (before the container is removed); idempotent."""
        if self._stop_w >= 0:
            os.write(self._stop_w, b"x")
            if self._thread.is_alive():
                self._thread.join(timeout=5)
            os.close(self._stop_w)
            os.close(self._stop_r)
            self._stop_w = -1

    def _run(self) -> None:
        from coi.incus.client import Client as NewClient

        try:
            with NewClient(self.endpoint, project=self.project) as client:
                self._watch(client)
        except Exception:  # the command must go on; its output says nothing of this
            log.exception("monitoring %s failed", self.container)

    def _watch(self, client: Any) -> None:
        from coi.monitor.cgroup import find_payload_dir
        from coi.monitor.engine import Settings
        from coi.session.watchman import open_watchman

        settings = Settings.from_json(self.settings_json)
        cgroup = find_payload_dir(self.container, self.project)
        watchman = open_watchman(client, self.container, settings, cgroup, self.coi_home,
                                 flag=self.flag)
        if watchman is None:
            return
        try:
            due = time.monotonic()
            while True:
                timeout = max(0.0, due - time.monotonic())
                readable = select.select([self._stop_r, *watchman.fds()], [], [], timeout)[0]
                if self._stop_r in readable:
                    return
                now = time.monotonic()
                found, _ = watchman.events(readable, now)
                killed = watchman.respond(found)
                if killed is None and now >= due:
                    due = now + settings.poll_interval
                    killed = watchman.poll(now)
                if watchman.responder.state == "paused":
                    self.paused = watchman.responder.cause
                if killed is not None:
                    self.threat = killed
                    return
        except (OSError, CoiError) as exc:
            log.warning("monitoring %s stopped: %s", self.container, exc)
        finally:
            with contextlib.suppress(Exception):
                watchman.close()
