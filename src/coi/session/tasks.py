"""The supervisor's heavy jobs, each in a short-lived child process.

The supervisor lives as long as its session, one per session, so it keeps only what
watching needs in memory (see docs/monitoring.md). Saving the tool's state (tar, file
trees), refreshing allowlist rules and checking or repairing the firewall import much
more (Incus file API, config model, nftables planning); each runs here instead:

    python -m coi.session.tasks save|refresh|guard SPEC_JSON

SPEC_JSON is the supervisor's spec (`SupervisorSpec.to_json`). The exit status says
how it went; `guard` prints one JSON line: {"problems": [...], "repaired": bool}.
Exit 0: done (for guard: rules intact or repaired), 1: failed (reason on stderr).
"""

from __future__ import annotations

import json
import logging
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from coi.session.supervisor import SupervisorSpec

log = logging.getLogger("coi.supervisor.task")


def main(argv: list[str]) -> int:
    from coi.errors import CoiError
    from coi.session.supervisor import SupervisorSpec

    if len(argv) != 2 or argv[0] not in JOBS:
        print(f"usage: python -m coi.session.tasks {{{','.join(JOBS)}}} SPEC_JSON",
              file=sys.stderr)
        return 2
    spec = SupervisorSpec.from_json(argv[1])
    try:
        return JOBS[argv[0]](spec)
    except (CoiError, OSError) as exc:
        print(f"{argv[0]} failed: {exc}", file=sys.stderr)
        return 1


def save(spec: SupervisorSpec) -> int:
    from coi.incus import connect
    from coi.session.save import save_state
    from coi.session.store import SessionStore
    store = SessionStore(spec.coi_home, spec.owner)
    record = store.load(spec.tool, spec.session_id)
    with connect(spec.remote or None, spec.project) as client:
        saved = save_state(client, store, record, home=spec.home)
    print(json.dumps({"saved_at": saved.saved_at}))
    return 0


def refresh(spec: SupervisorSpec) -> int:
    from coi.incus import connect
    from coi.session.isolation import Refresher
    refresher = Refresher.from_spec(spec.network, spec.container, spec.project)
    if refresher is None:
        return 0
    with connect(spec.remote or None, spec.project) as client:
        warnings = refresher.tick(client)
    print(json.dumps({"warnings": list(warnings)}))
    return 0


def guard(spec: SupervisorSpec) -> int:
    """Check the session's nftables rules; re-apply them if anything is missing or
    changed, and check again."""
    from coi.incus import connect
    from coi.network import integrity
    from coi.session.isolation import expected_rules
    with connect(spec.remote or None, spec.project) as client:
        expected = expected_rules(client, spec.network, spec.container, spec.project)
        problems = integrity.check(spec.container, expected)
        repaired = False
        if problems:
            integrity.repair(expected.target, expected.policy)
            left = integrity.check(spec.container, expected)
            repaired = not left
            if left:
                print(json.dumps({"problems": problems, "left": left, "repaired": False}))
                return 1
    print(json.dumps({"problems": problems, "repaired": repaired}))
    return 0


JOBS: dict[str, Callable[[SupervisorSpec], int]] = {"save": save, "refresh": refresh,
                                                    "guard": guard}

if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    sys.exit(main(sys.argv[1:]))
