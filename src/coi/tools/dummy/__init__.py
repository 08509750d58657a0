"""The `dummy` tool: a fake AI coding CLI for tests and for trying coi without an account.

The tool itself is the bash script next to this file (containers may have no python).
The image builder pushes it to INSTALL_PATH; see docs/dummy-tool.md for its contract.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

SCRIPT_NAME = "dummy"
INSTALL_PATH = "/usr/local/bin/dummy"
INSTALL_MODE = 0o755
VERSION = "1.0.0"
STATE_DIR = ".claude"  # under $HOME, laid out like Claude Code's


def script_path() -> Path:
    """Return the path of the bash script shipped inside the coi package."""
    resource = files(__name__).joinpath(SCRIPT_NAME)
    if not isinstance(resource, Path):  # only a zipped install would get here
        raise RuntimeError(f"the dummy tool script is not a plain file: {resource}")
    return resource
