"""Value checks attached to config fields with `Annotated[T, Check(...)]`.

msgspec ignores metadata it does not know, so one annotation serves both the typed model
and our validator, which turns a failed check into "expected <Check.expected>".
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import msgspec


class Check(msgspec.Struct, frozen=True):
    """A test a value must pass, and the words telling the user what was expected."""

    expected: str
    test: Callable[[Any], bool]


def _pattern(regex: str, expected: str, allow_empty: bool = True) -> Check:
    compiled = re.compile(regex)

    def test(value: Any) -> bool:
        return (allow_empty and value == "") or compiled.fullmatch(value) is not None

    return Check(expected, test)


def at_least(minimum: int) -> Check:
    return Check(f"an integer >= {minimum}", lambda value: value >= minimum)


POSITIVE = Check("a number > 0", lambda value: value > 0)
NON_EMPTY = Check("a non-empty string", lambda value: value.strip() != "")

ENV_NAME = _pattern(r"[A-Za-z_][A-Za-z0-9_]*",
                    "an environment variable name like MY_VAR", allow_empty=False)
PROFILE_NAME = _pattern(r"[A-Za-z0-9_-]+",
                        "a profile name of letters, digits, '-' and '_'", allow_empty=False)


def _relative_path(value: str) -> bool:
    parts = value.split("/")
    return value != "" and value[0] not in "/~" and ".." not in parts


RELATIVE_PATH = Check("a path relative to the workspace (no leading '/', '~' or '..')",
                      _relative_path)

# Allowlist entries: a hostname, an IPv4 address or CIDR, with an optional :port.
# Wildcards are refused because they cannot be resolved to addresses on the host.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST = rf"(?:{_LABEL}\.)*{_LABEL}"
_IPV4 = r"(?:\d{1,3}\.){3}\d{1,3}(?:/\d{1,2})?"
DESTINATION = _pattern(rf"(?:{_HOST}|{_IPV4})(?::\d{{1,5}})?",
                       "a hostname, IPv4 address or CIDR, optionally with :port "
                       "(no wildcards, no scheme)", allow_empty=False)

PROXY_URL = _pattern(r"(?:https?|socks5h?)://[^\s/@]+(?::\d{1,5})?/?",
                     'a proxy URL like "http://proxy.example:3128", or ""')

_CPU_SET = re.compile(r"\d+(?:-\d+)?(?:,\d+(?:-\d+)?)*")


def _cpu(value: str) -> bool:
    # To Incus a bare number is a count of CPUs (so at least 1); "0-0" pins CPU 0.
    if value == "" or (value.isdigit() and int(value) >= 1):
        return True
    return not value.isdigit() and _CPU_SET.fullmatch(value) is not None


CPU = Check('a CPU count like "2" or a CPU set like "0-3" or "0,2", or ""', _cpu)


def _allowance(value: str) -> bool:
    if value == "" or re.fullmatch(r"\d+ms/\d+ms", value):
        return True
    match = re.fullmatch(r"(\d{1,3})%", value)
    return match is not None and 1 <= int(match.group(1)) <= 100


CPU_ALLOWANCE = Check('a CPU share like "50%" or a time slice like "25ms/100ms", or ""',
                      _allowance)

_UNITS = r"(?:B|kB|KB|MB|GB|TB|PB|EB|KiB|MiB|GiB|TiB|PiB|EiB)"
# A bare number is bytes to Incus; requiring a unit catches "2" meant as 2 GiB.
MEMORY = _pattern(rf"\d+(?:\.\d+)?{_UNITS}|(?:100|[1-9]\d?)%",
                  'a size with a unit like "2GiB" or "512MB", a percentage like "50%", or ""')
DISK_RATE = _pattern(rf"\d+(?:\.\d+)?{_UNITS}|\d+iops",
                     'a rate per second like "50MB" or "1000iops", or ""')
DURATION = _pattern(r"(?=\d)(?:\d+h)?(?:\d+m)?(?:\d+s)?",
                    'a duration like "2h", "45m" or "1h30m", or ""')
