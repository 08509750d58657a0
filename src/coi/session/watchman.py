"""The monitor of one running container, with its event sources and its hands.

`Watchman` ties together the monitor (coi.monitor.engine), the responder
(coi.monitor.respond) and the kernel event sources that work on this host: exec events
(proc connector), packets coi's rules logged (nflog) and nftables changes. Its owner runs
the loop: `fds()` to wait on, `events()` when one is readable, `poll()` on the monitor's
period. The session supervisor (coi.session.sentry) is one owner, `coi run`'s watch
thread (coi.session.runwatch) the other.

`IncusActions` are the responder's hands: freeze, force-stop, and the marks a paused or
killed container carries (its `user.coi.monitor` key, and through `flag` the session
record's `threat`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coi.errors import CoiError

if TYPE_CHECKING:
    from coi.incus.client import Client
    from coi.monitor.engine import Monitor, Settings
    from coi.monitor.findings import Finding
    from coi.monitor.respond import Responder

log = logging.getLogger("coi.supervisor")
MONITOR_MARK = "user.coi.monitor"
Flag = Callable[[dict[str, Any]], None]


class IncusActions:
    def __init__(self, client: Client, container: str, flag: Flag | None = None,
                 cgroup_dir: Path | None = None) -> None:
        self.client = client
        self.container = container
        self.flag = flag
        self.cgroup_dir = cgroup_dir

    def pause(self, finding: Finding) -> None:
        from coi.incus import instances

        try:
            instances.freeze(self.client, self.container)
        except CoiError:
            if instances.get(self.client, self.container).status != "Frozen":
                raise  # (frozen already, by the user or an earlier finding: paused)
        self._mark(finding, "paused")

    def kill(self, finding: Finding) -> None:
        from coi.incus import instances

        started = time.monotonic()
        if not self._kill_processes():
            with contextlib.suppress(CoiError):  # stopping by force works either way
                instances.freeze(self.client, self.container)
        stilled = time.monotonic()
        instances.stop(self.client, self.container, force=True)
        log.info("%s: its processes killed (or frozen) in %.0f ms, the container stopped "
                 "%.0f ms later", self.container, 1000 * (stilled - started),
                 1000 * (time.monotonic() - stilled))
        self._mark(finding, "killed")

    def _kill_processes(self) -> bool:
        """SIGKILL every process of the container at once, from the host, forks made
        meanwhile included: `cgroup.kill` (cgroup v2, Linux 5.14+). It takes
        microseconds where Incus's forced stop takes ~0.7 s of teardown, and it is
        stronger than freezing first (under the v1 freezer a frozen task does not even
        die until thawed). False where it is not available: then freeze, then stop."""
        if self.cgroup_dir is None:
            return False
        try:
            with open(self.cgroup_dir / "cgroup.kill", "w") as handle:
                handle.write("1")
        except OSError as exc:
            log.info("cgroup.kill unavailable for %s: %s", self.container, exc)
            return False
        return True

    def _mark(self, finding: Finding, state: str) -> None:
        from coi.incus import instances
        from coi.monitor.respond import threat_mark

        mark = threat_mark(finding, state)
        try:
            instances.update_config(self.client, self.container,
                                    {MONITOR_MARK: json.dumps(mark)})
        except CoiError as exc:  # an ephemeral container may be gone once stopped
            log.info("could not mark %s as %s: %s", self.container, state, exc)
        if self.flag is not None:
            try:
                self.flag({**mark, "action": state})
            except (CoiError, OSError) as exc:
                log.warning("could not mark the session of %s: %s", self.container, exc)


class Watchman:
    def __init__(self, client: Client, monitor: Monitor, responder: Responder) -> None:
        self.client = client
        self.monitor = monitor
        self.responder = responder
        self.sources: dict[str, Any] = {}

    @property
    def settings(self) -> Settings:
        return self.monitor.settings

    def fds(self) -> list[int]:
        return [source.fileno() for source in self.sources.values()]

    def watching(self) -> bool:
        return self.responder.state == "running"

    def events(self, readable: list[int], now: float) -> tuple[list[Finding], bool]:
        """Findings from the readable sources, and whether nftables changed."""
        found: list[Finding] = []
        nft_changed = False
        for name, source in list(self.sources.items()):
            if source.fileno() not in readable:
                continue
            try:
                if name == "exec":
                    pids = source.drain()
                    found += self.monitor.on_exec(pids, now) if self.watching() else []
                elif name == "nflog":
                    found += self.monitor.on_net(source.read_events(), now)
                else:
                    nft_changed = source.drain() or nft_changed
            except Exception:  # a source must never take the supervisor down with it
                log.exception("%s failed; the monitor goes on without it", name)
                self._close(name)
        return found, nft_changed

    def poll(self, now: float) -> Finding | None:
        """One poll; returns the finding that got the container killed, if any."""
        if not self.watching():
            self._check_unfrozen()
            return None
        try:
            found = self.monitor.poll(now)
        except Exception:  # the session's saves must go on whatever a poll hit
            log.exception("monitor poll failed")
            return None
        return self.respond(found)

    def respond(self, found: list[Finding]) -> Finding | None:
        if not found:
            return None
        try:
            entries = self.responder.handle(found)
        except OSError as exc:  # the audit log could not be written (a full disk)
            log.error("could not write the audit log: %s", exc)
            entries = []
        for entry in entries:
            log.warning("threat %s/%s: %s (%s)", entry["severity"], entry["detector"],
                        entry["title"], entry["action"])
        return self.responder.cause if self.responder.state == "killed" else None

    def _check_unfrozen(self) -> None:
        """While paused: once the user has run `coi unfreeze`, watch again."""
        from coi.incus import instances

        try:
            status = instances.get(self.client, self.monitor.container).status
        except CoiError:
            return
        if status == "Running":
            log.info("%s was unfrozen: monitoring again", self.monitor.container)
            self.responder.resumed()

    def close(self) -> None:
        for name in list(self.sources):
            self._close(name)

    def _close(self, name: str) -> None:
        source = self.sources.pop(name)
        with contextlib.suppress(Exception):
            source.close()


SHARED_CHAINS = ("forward", "input", "refuse")  # coi.network.rules: base chains, refuse


def guarded_chains(container: str) -> list[str]:
    """The chains whose changes can touch `container`'s rules: the shared ones and its
    own (both generations, coi.network.rules.chain_names)."""
    return [*SHARED_CHAINS, *(f"{kind}{gen}-{container}" for kind in "fi" for gen in (0, 1))]


def open_watchman(client: Client, container: str, settings: Settings, cgroup: Path | None,
                  coi_home: Path, *, flag: Flag | None = None,
                  watch_nft: bool = False) -> Watchman | None:
    """The watchman of a running container; None when it has no cgroup to watch."""
    from coi.monitor.audit import AuditLog, audit_path
    from coi.monitor.engine import Monitor
    from coi.monitor.respond import Responder

    if cgroup is None:
        log.warning("monitoring off: no cgroup found for %s", container)
        return None
    responder = Responder(container, AuditLog(audit_path(coi_home, container)), settings,
                          IncusActions(client, container, flag, cgroup))
    watchman = Watchman(client, Monitor(container, settings, cgroup), responder)
    _open_sources(watchman, settings, watch_nft)
    log.info("monitoring %s every %.2f s from %s; event sources: %s", container,
             settings.poll_interval, cgroup, ", ".join(watchman.sources) or "none")
    return watchman


def _open_sources(watchman: Watchman, settings: Settings, watch_nft: bool) -> None:
    def attempt(name: str, make: Callable[[], Any]) -> None:
        try:
            watchman.sources[name] = make()
        except (OSError, CoiError, ImportError) as exc:
            log.warning("%s unavailable (%s): the monitor relies on its polls", name, exc)

    def exec_watch() -> Any:
        from coi.monitor.execwatch import ExecWatch

        return ExecWatch()

    def nflog() -> Any:
        from coi.monitor.nflog import NflogSocket

        assert settings.nflog_group is not None
        return NflogSocket(settings.nflog_group)

    def nft_watch() -> Any:
        from coi.monitor.nftwatch import NftWatch

        return NftWatch(chains=guarded_chains(watchman.monitor.container))

    attempt("exec", exec_watch)
    if settings.nft and settings.nflog_group is not None:
        attempt("nflog", nflog)
    if watch_nft:
        attempt("nftwatch", nft_watch)
