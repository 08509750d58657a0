"""Host-side security monitoring building blocks.

Everything here looks at a container from the HOST (its processes in the host `/proc`,
its cgroup counters) and never runs anything inside it. The pieces are pure or take
their roots (`proc_root`, a cgroup directory, an audit directory) as parameters, so the
session supervisor can compose them and tests can use fake trees:

- `procs`, `netstat`, `cgroup`: snapshots of a container's processes, sockets, counters
- `patterns`, `detectors`, `rates`: findings over those snapshots
- `findings`: `Severity`, `Finding`, `Deduper`
- `audit`, `rotation`: the append-only, fsynced JSONL audit log and its rotation
"""
