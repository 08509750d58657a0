"""Where a session's host-side files live under the invoking user's `~/.coi`.

    run/<container>.lock          held by the coi process looking after the container
    run/<container>.json          the supervisor's run state (coi.state record)
    credentials/<tool>/           logins made inside a container (0700; never a session)
    sessions-<tool>/<id>/         saved sessions (coi.session.store)
"""

from __future__ import annotations

from pathlib import Path

CODE_HOME = "/home/code"  # the `code` user's home in coi images
WORKSPACE = "/workspace"


def run_dir(coi_home: Path) -> Path:
    return coi_home / "run"


def run_lock_path(coi_home: Path, container: str) -> Path:
    return run_dir(coi_home) / f"{container}.lock"


def run_state_path(coi_home: Path, container: str) -> Path:
    return run_dir(coi_home) / f"{container}.json"


def credentials_dir(coi_home: Path, tool: str) -> Path:
    return coi_home / "credentials" / tool


def container_home(code_user: str) -> str:
    return CODE_HOME if code_user == "code" else f"/home/{code_user}"
