"""coi: run AI coding assistants in isolated Incus system containers."""

__version__ = "0.1.0"
