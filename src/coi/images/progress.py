"""What a build's progress display shows, as plain text (the CLI draws it).

On a terminal: one status line for the current step or phase with its running time,
a line for each finished one, notes, and with `verbose` the recipe's output. Elsewhere:
`[12.3s] phase: text` lines only, plus the output when verbose. Pure, so tests need no
terminal: feed events, read lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from coi.images.events import BuildEvent, Kind, plain_line
from coi.units import human_size

if TYPE_CHECKING:
    from coi.images.build import BuildResult

STARTS = (Kind.STEP, Kind.PHASE)


@dataclass
class Progress:
    """Steps are the builder's own; phases, announced by the recipe, nest in a step."""

    tty: bool
    verbose: bool = False
    step: BuildEvent | None = None
    phase: BuildEvent | None = None

    def lines(self, event: BuildEvent) -> list[str]:
        """The lines to print for `event` (above the status line, on a terminal)."""
        if event.kind is Kind.OUTPUT:
            return [event.text] if self.verbose else []
        if not self.tty:
            return [plain_line(event)]
        if event.kind is Kind.NOTE:
            return [f"  {event.text}"]
        done = self.finish(event.elapsed, phase_only=event.kind is Kind.PHASE)
        if event.kind is Kind.PHASE:
            self.phase = event
        else:
            self.step = event
        return done

    def finish(self, now: float, phase_only: bool = False) -> list[str]:
        """The lines that close the current phase (and step, unless `phase_only`)."""
        done = []
        if self.phase is not None:
            done.append(f"    done  {self.phase.text} ({format_seconds(now - self.phase.elapsed)})")
            self.phase = None
        if self.step is not None and not phase_only:
            done.append(f"  done  {self.step.text} ({format_seconds(now - self.step.elapsed)})")
            self.step = None
        return done

    def status(self, now: float) -> str:
        """The live line: current phase or step, its time so far, the build's total."""
        current = self.phase or self.step
        if current is None:
            return f"building … {format_seconds(now)}"
        spent = format_seconds(now - current.elapsed)
        return f"{current.text} … {spent} (total {format_seconds(now)})"


def format_seconds(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m{rest:02d}s"


def summary(result: BuildResult) -> str:
    """What a finished `coi build` says: what it made, or why it made nothing."""
    if not result.built:
        return f"{result.reason}; use --force to rebuild"
    return "\n".join([
        f"built {result.alias} in {format_seconds(result.seconds)}",
        f"  alias        {result.alias}",
        f"  version      {result.version}",
        f"  fingerprint  {result.fingerprint[:12]}",
        f"  size         {human_size(result.size)}",
        f"  base         {result.base}",
        f"  log          {result.log_path}",
    ])
