"""All human and JSON output goes through here.

JSON shapes are stable and documented; human output uses plain lines, with tables and
colour (via rich, imported lazily) only where a terminal is attached.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def json_option(func: F) -> F:
    """`--format text|json` and its short form `--json`, folded into one `as_json` flag."""
    func = click.option("--json", "json_flag", is_flag=True,
                        help="Output JSON (same as --format json).")(func)
    func = click.option("--format", "output_format", type=click.Choice(["text", "json"]),
                        default="text", show_default=True, help="Output format.")(func)
    return _fold_format(func)


def _fold_format(func: F) -> F:
    import functools

    @functools.wraps(func)
    def wrapper(*args: Any, output_format: str, json_flag: bool, **kwargs: Any) -> Any:
        return func(*args, as_json=json_flag or output_format == "json", **kwargs)

    return wrapper  # type: ignore[return-value]


def to_json(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=False, default=str)


def emit(data: Any, as_json: bool, human: Callable[[Any], str]) -> None:
    """Print `data` as JSON, or as the text `human` makes of it."""
    click.echo(to_json(data) if as_json else human(data))


def line(text: str = "", err: bool = False) -> None:
    click.echo(text, err=err)


def warn(text: str) -> None:
    click.echo(f"coi: warning: {text}", err=True)


def is_tty(stream: Any = None) -> bool:
    return bool(getattr(stream or sys.stdout, "isatty", lambda: False)())


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain aligned text table (no colour, safe to pipe)."""
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
             for row in cells]
    return "\n".join(lines)


def step(symbol: str, text: str) -> None:
    """One progress line of a multi-step job (setup, build): `[ok] text`."""
    click.echo(f"[{symbol}] {text}")
