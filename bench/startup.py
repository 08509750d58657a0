"""How long `coi` takes to start, for commands that do not talk to the daemon.

Target (issue 2): `coi --help` under 150 ms on the reference machine (2 cores).
Runs each command N times after a warm-up and prints a table and JSON.
Usage: .venv/bin/python bench/startup.py [--runs 20] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

COI = str(Path(sys.executable).with_name("coi"))
COMMANDS: list[tuple[str, list[str], float | None]] = [
    ("coi --help", [COI, "--help"], 0.150),
    ("coi --version", [COI, "--version"], None),
    ("coi config show", [COI, "config", "show"], None),
    ("coi completion bash", [COI, "completion", "bash"], None),
]


def time_command(argv: list[str], runs: int) -> list[float]:
    subprocess.run(argv, capture_output=True, check=False)  # warm the page cache
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=False)
        samples.append(time.perf_counter() - start)
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    results = []
    for label, argv, target in COMMANDS:
        samples = time_command(argv, args.runs)
        median = statistics.median(samples)
        results.append({
            "command": label, "runs": args.runs, "median_s": round(median, 4),
            "p90_s": round(sorted(samples)[int(0.9 * (len(samples) - 1))], 4),
            "target_s": target, "met": None if target is None else median <= target,
        })
    print(f"{'command':<22} {'median':>8} {'p90':>8} {'target':>8}  met")
    for r in results:
        target = f"{r['target_s'] * 1000:.0f}ms" if r["target_s"] else "-"
        met = {None: "-", True: "yes", False: "NO"}[r["met"]]
        print(f"{r['command']:<22} {r['median_s'] * 1000:>6.1f}ms {r['p90_s'] * 1000:>6.1f}ms "
              f"{target:>8}  {met}")
    doc = json.dumps({"benchmark": "startup", "results": results}, indent=2)
    print(doc)
    if args.json_out:
        args.json_out.write_text(doc + "\n")
    return 0 if all(r["met"] is not False for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
