"""Contention: two processes do CPU work and meet (tests/timekeeper/meet.py), side by side on two
cores and pinned together to one core. Prints the median virtual times of each mode and how far the
pinned runs are from the free ones. Modes alternate so that drift of the host's speed hits both.

    python benchmarks/timekeeper_contention.py [--reps 7]
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MEET = ROOT / "tests" / "timekeeper" / "meet.py"
KEYS = ("a_send", "b_ready", "b_recv", "a_done", "a_work", "a_cpu", "b_work", "b_cpu")


def run(prefix: list[str]) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-m", "revati_search.cli", "run", "--", *prefix, sys.executable, str(MEET)],
                         cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=7)
    a = ap.parse_args()
    free, pinned = [], []
    for _ in range(a.reps):
        free.append(run([]))
        pinned.append(run(["taskset", "-c", "0"]))
    print(f"{'':8}" + "".join(f"{k:>10}" for k in KEYS))
    for name, runs in (("2 cores", free), ("1 core", pinned)):
        print(f"{name:8}" + "".join(f"{statistics.median(r[k] for r in runs) * 1e3:>9.1f}m" for k in KEYS))
    for k in ("a_send", "b_ready", "b_recv", "a_done"):
        f, p = statistics.median(r[k] for r in free), statistics.median(r[k] for r in pinned)
        print(f"{k}: pinned vs free {100 * (p - f) / f:+.1f}%")


if __name__ == "__main__":
    main()
