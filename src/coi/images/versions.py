"""Timestamped image versions: `<prefix>-YYYYMMDD-HHMMSS`, newest kept, older cleaned up.

A build publishes a new version under such an alias, then points the plain alias (`coi`)
at it, so the previous version stays usable until the new one is complete.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime

STAMP_FORMAT = "%Y%m%d-%H%M%S"
STAMP_PATTERN = r"\d{8}-\d{6}"


def versioned_name(prefix: str, when: datetime | None = None) -> str:
    """The alias of a new version of `prefix`, stamped in UTC."""
    moment = (when or datetime.now(UTC)).astimezone(UTC)
    return f"{prefix}-{moment.strftime(STAMP_FORMAT)}"


def version_time(prefix: str, alias: str) -> datetime | None:
    """When the version `alias` of `prefix` was made, or None if it is not one."""
    match = re.fullmatch(re.escape(prefix) + "-(" + STAMP_PATTERN + ")", alias)
    if match is None:
        return None
    try:
        return datetime.strptime(match.group(1), STAMP_FORMAT).replace(tzinfo=UTC)
    except ValueError:  # right shape, impossible date (e.g. month 13)
        return None


def versions(prefix: str, aliases: Iterable[str]) -> list[str]:
    """The version aliases of `prefix` among `aliases`, newest first."""
    stamped = [(t, a) for a in aliases if (t := version_time(prefix, a)) is not None]
    return [alias for _, alias in sorted(stamped, reverse=True)]


def to_clean_up(prefix: str, aliases: Iterable[str], keep: int) -> list[str]:
    """The versions of `prefix` beyond the `keep` newest, oldest last."""
    if keep < 1:
        raise ValueError("keep must be at least 1")
    return versions(prefix, aliases)[keep:]
