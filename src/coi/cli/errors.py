"""The one place that turns exceptions into a message and an exit status.

Exit statuses (documented in README.md):
  0 success · 1 general failure · 2 usage error · 3 config error · 4 Incus error
  5 not found · 6 already exists / busy · 7 permission denied · 8 setup step failed
  9 security policy refused (fail closed) · 10 timed out · 130 interrupted (Ctrl-C)
`coi run` and `coi container exec` pass the command's own status through instead.
"""

from __future__ import annotations

import os
import sys
import traceback

import click

from coi.errors import CoiError

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def debug_enabled() -> bool:
    return os.environ.get("COI_DEBUG", "") not in ("", "0")


def report(message: str) -> None:
    """One line on stderr, prefixed so it is clear the line is coi's own."""
    click.echo(f"coi: error: {message}", err=True)


def run_guarded(command: click.Command, argv: list[str] | None) -> int:
    """Run the CLI; map every failure to one line on stderr and an exit status."""
    try:
        result = command.main(args=argv, prog_name="coi", standalone_mode=False)
    except CoiError as exc:
        if debug_enabled():
            traceback.print_exc()
        report(str(exc))
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.Abort as exc:
        # click turns Ctrl-C into Abort; a "no" at a confirmation prompt is Abort too.
        if isinstance(exc.__cause__, KeyboardInterrupt | EOFError):
            click.echo("Interrupted.", err=True)
            return EXIT_INTERRUPTED
        click.echo("Aborted.", err=True)
        return 1
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (e.g. `coi list | head`): not an error worth a trace.
        sys.stderr.close()
        return 1
    return result if isinstance(result, int) else 0
