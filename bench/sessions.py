"""Session speed: `coi run -- true` end to end next to the plain incus CLI doing the same
work on the same pool in the same run, a ready `coi shell --background`, ten parallel
`coi run`s on one workspace, and `coi list` with ten containers.

Targets (issue "Sessions"): `coi run -- true` median <= 1.0 s and faster than
`incus launch --ephemeral` + `incus exec` + `incus delete --force`; `coi list` <= 200 ms.
Runs as root or an incus-admin user, with its own HOME and container prefix (nothing of
yours is touched). Prints a table, then JSON.
Usage: .venv/bin/python bench/sessions.py [--runs 7] [--image coi-test] [--json-out F]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

COI = str(Path(sys.executable).with_name("coi"))
INCUS = shutil.which("incus") or "incus"


class Bench:
    """A private HOME (with a config naming the image, tool and network) and prefix."""

    def __init__(self, image: str, root: Path) -> None:
        self.image = image
        self.home = root / "home"
        self.workspace = root / "project"
        self.workspace.parent.mkdir(exist_ok=True)
        self.prefix = f"coi-mb{uuid.uuid4().hex[:6]}-"
        config = self.home / ".config" / "coi" / "config.toml"
        config.parent.mkdir(parents=True)
        self.workspace.mkdir()
        config.write_text(f'[defaults]\nimage = "{image}"\n[tool]\nname = "dummy"\n'
                          '[network]\nmode = "open"\n')
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("COI_")}
        self.env |= {"HOME": str(self.home), "COI_CONTAINER_PREFIX": self.prefix}

    def coi(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([COI, *argv], env=self.env, cwd=self.workspace, text=True,
                                capture_output=True, stdin=subprocess.DEVNULL, check=False)
        if check and result.returncode != 0:
            raise RuntimeError(f"coi {' '.join(argv)}: {result.returncode}\n{result.stderr}")
        return result

    def containers(self) -> list[str]:
        listed = json.loads(self.coi("list", "--json").stdout)["active_containers"]
        return [c["name"] for c in listed]

    def remove_all(self) -> None:
        names = self.containers()
        if names:
            subprocess.run([INCUS, "delete", "--force", *names], capture_output=True,
                           check=False)


RETRIES: list[str] = []  # failed attempts that were retried (e.g. a daemon restart)


def timed(action: Callable[[], object], attempts: int = 3) -> float:
    """Seconds `action` took; a failure is noted and retried (other tests on a shared
    host restart incusd now and then), up to `attempts` times."""
    for attempt in range(1, attempts + 1):
        start = time.perf_counter()
        try:
            action()
        except (RuntimeError, subprocess.CalledProcessError) as exc:
            RETRIES.append(str(exc).splitlines()[0])
            if attempt == attempts:
                raise
            time.sleep(5)
            continue
        return time.perf_counter() - start
    raise AssertionError("unreachable")


def samples(action: Callable[[], object], runs: int) -> list[float]:
    return [timed(action) for _ in range(runs)]


def bench_run_vs_cli(bench: Bench, runs: int) -> tuple[list[float], list[float]]:
    """`coi run -- true` and the plain incus CLI sequence, alternating (so both see the
    same load), after one warm-up each."""
    def coi_run() -> None:
        bench.coi("run", "--", "true")

    def cli() -> None:
        name = f"coi-mbcli-{uuid.uuid4().hex[:8]}"
        for argv in (["launch", "--ephemeral", bench.image, name], ["exec", name, "--", "true"],
                     ["delete", "--force", name]):
            subprocess.run([INCUS, *argv], capture_output=True, check=True)

    coi_run()
    cli()
    pairs = [(timed(coi_run), timed(cli)) for _ in range(runs)]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def bench_shell_ready(bench: Bench, runs: int) -> list[float]:
    """`coi shell --background` until its tmux session exists, then `coi kill` it."""
    from coi.incus import connect
    from coi.incus import exec as incus_exec
    from coi.session import tmux

    def once(client: Any) -> float:
        start = time.perf_counter()
        bench.coi("shell", "--background", "--tool", "dummy", "--network", "open")
        [name] = bench.containers()
        while incus_exec.run(client, name, tmux.has_session_argv(name), user=1000,
                             group=1000, env=tmux.base_env("/home/code")).exit_code != 0:
            time.sleep(0.02)
        elapsed = time.perf_counter() - start
        bench.coi("kill", name)
        return elapsed

    with connect() as client:
        return [once(client) for _ in range(runs)]


def bench_parallel(bench: Bench, count: int = 10) -> tuple[float, list[int]]:
    start = time.perf_counter()
    with ThreadPoolExecutor(count) as pool:
        results = list(pool.map(lambda _: bench.coi("run", "--", "true", check=False),
                                range(count)))
    return time.perf_counter() - start, [r.returncode for r in results]


def bench_list(bench: Bench, runs: int, count: int = 10) -> tuple[list[float], list[float]]:
    """`coi list` with `count` running session containers (made directly), and the one
    daemon request it makes, alone (to show where the time goes)."""
    from coi.incus import connect, instances
    from coi.workspace import container_name

    with connect() as client:
        for slot in range(1, count + 1):
            name = container_name(str(bench.workspace), slot, bench.prefix)
            instances.create(client, name, image=bench.image, start=True, config={
                "user.coi.session": str(uuid.uuid4()), "user.coi.tool": "dummy",
                "user.coi.workspace": str(bench.workspace), "user.coi.persistent": "false",
                "user.coi.image": bench.image}, timeout=300)
        try:
            assert len(bench.containers()) == count
            pairs = [(timed(lambda: bench.coi("list")),
                      timed(lambda: instances.list_instances(client, bench.prefix)))
                     for _ in range(runs)]
        finally:
            bench.remove_all()
    return [p[0] for p in pairs], [p[1] for p in pairs]


def machine() -> dict[str, Any]:
    from coi.incus import connect

    with connect() as client:
        pools = [{"name": p["name"], "driver": p["driver"], "source": p["config"].get("source")}
                 for p in client.get("/storage-pools", params={"recursion": "1"})]
        incus_version = client.server_info()["environment"]["server_version"]
    debian = Path("/etc/debian_version").read_text().strip()
    return {"cores": os.cpu_count(), "os": f"Debian {debian}", "kernel": platform.release(),
            "incus": incus_version, "pools": pools, "python": platform.python_version(),
            "load_average_1m": round(os.getloadavg()[0], 2)}


def row(name: str, values: list[float], target: float | None, **extra: Any) -> dict[str, Any]:
    median = statistics.median(values)
    return {"benchmark": name, "runs": len(values), "median_s": round(median, 3),
            "min_s": round(min(values), 3), "max_s": round(max(values), 3),
            "target_s": target, "met": None if target is None else median <= target, **extra}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--list-runs", type=int, default=20)
    parser.add_argument("--image", default="coi-test")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    results: list[dict[str, Any]] = []
    load_before = round(os.getloadavg()[0], 2)
    with tempfile.TemporaryDirectory(prefix="coi-bench-") as tmp:
        bench = Bench(args.image, Path(tmp))
        try:
            run, cli = bench_run_vs_cli(bench, args.runs)
            faster = statistics.median(run) < statistics.median(cli)
            results += [row("coi run -- true", run, 1.0, faster_than_incus_cli=faster),
                        row("incus launch --ephemeral + exec true + delete --force", cli, None)]
            results[-2]["met"] = results[-2]["met"] and faster
            restricted = samples(lambda: bench.coi("run", "--network", "restricted", "--",
                                                   "true"), args.runs)
            results.append(row("coi run -- true, restricted network (the default)",
                               restricted, None))
            results.append(row("coi shell --background: tmux ready",
                               bench_shell_ready(bench, max(3, args.runs // 2)), None))
            wall, codes = bench_parallel(bench)
            results.append(row("10 x coi run -- true in parallel (wall)", [wall], None,
                               exit_codes=codes))
            # Own prefix: the parallel runs' containers may still be going away.
            listing, request = bench_list(Bench(args.image, Path(tmp) / "list"),
                                          args.list_runs)
            results += [row("coi list, 10 running containers", listing, 0.2),
                        row("  its daemon request alone (recursion=2)", request, None)]
        finally:
            bench.remove_all()
    host = machine() | {"load_average_1m_before": load_before, "retried_failures": RETRIES}
    report(results, host, args.json_out)
    return 0 if all(r["met"] in (None, True) for r in results) else 1


def report(results: list[dict[str, Any]], host: dict[str, Any], out: Path | None) -> None:
    print(f"{'benchmark':<56} {'median':>8} {'min':>8} {'max':>8} {'target':>7}  met")
    for r in results:
        target = f"{r['target_s'] * 1000:.0f}ms" if r["target_s"] else "-"
        met = {None: "-", True: "yes", False: "NO"}[r["met"]]
        print(f"{r['benchmark']:<56} {r['median_s']:>7.3f}s {r['min_s']:>7.3f}s "
              f"{r['max_s']:>7.3f}s {target:>7}  {met}")
    doc = json.dumps({"benchmark": "sessions", "machine": host, "results": results}, indent=2)
    print(doc)
    if out:
        out.write_text(doc + "\n")


if __name__ == "__main__":
    sys.exit(main())
