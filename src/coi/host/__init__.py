"""The host side of coi: `coi setup` (install and configure Incus) and `coi health`.

Nothing here prints. Setup is a list of small steps (`coi.host.steps`) whose results the
CLI renders; health returns a report (`coi.host.health`).
"""
