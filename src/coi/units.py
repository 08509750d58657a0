"""Human-readable quantities, shared by every command that shows sizes."""

from __future__ import annotations


def human_size(count: int) -> str:
    """Bytes in binary units: `512 B`, `1.5 KiB`, … up to TiB (one decimal above bytes)."""
    amount = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if amount < 1024:
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{amount:.1f} TiB"
