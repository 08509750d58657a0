"""Low-level operations behind `coi container`, `file`, `snapshot` and `tmux`.

Each module takes a `coi.incus.client.Client` and plain values, returns data and raises
CoiError; none of them prints. The command modules in `coi.cli` render the results.
"""
