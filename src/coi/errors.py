"""The one exception root of coi and its subclasses.

Every expected failure is a CoiError carrying a message that tells the user what to do
next. Each subclass owns an exit code; `coi.cli.errors` is the one place that turns them
into output and process exit statuses. The table in README.md documents these codes.
"""

from __future__ import annotations


class CoiError(Exception):
    """Root of every error coi expects. `hint` says what to do next."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} ({self.hint})"
        return self.message


class UsageError(CoiError):
    """Flags or arguments that do not fit together."""

    exit_code = 2


class ConfigError(CoiError):
    """A config file that cannot be read, parsed or validated."""

    exit_code = 3


class IncusError(CoiError):
    """The Incus daemon answered with an error, or could not be reached."""

    exit_code = 4

    def __init__(
        self, message: str, hint: str | None = None, status_code: int | None = None
    ) -> None:
        super().__init__(message, hint)
        self.status_code = status_code


class IncusUnreachable(IncusError):
    """No daemon answers on the socket or remote address."""


class IncusPermissionDenied(IncusError):
    """The socket exists but this user may not talk to it."""


class NotFound(CoiError):
    """A container, image, session or file that does not exist."""

    exit_code = 5


class IncusNotFound(NotFound, IncusError):
    """The daemon says the object does not exist (HTTP 404)."""

    exit_code = 5


class AlreadyExists(CoiError):
    """Something with that name exists already."""

    exit_code = 6


class IncusConflict(AlreadyExists, IncusError):
    """The daemon says the object exists or is busy (HTTP 409)."""

    exit_code = 6


class PermissionDenied(CoiError):
    """The operation needs privileges this process does not have."""

    exit_code = 7


class SetupError(CoiError):
    """A `coi setup` step failed; the message names the step and the fix."""

    exit_code = 8


class PolicyError(CoiError):
    """A security policy could not be applied, so coi refuses to go on (fail closed)."""

    exit_code = 9


class CoiTimeout(CoiError):
    """Something did not finish in the time allowed."""

    exit_code = 10
