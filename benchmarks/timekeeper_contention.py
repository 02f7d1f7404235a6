"""Contention: two processes do CPU work and meet, with the placements (side by side on two cores,
pinned together to one) interleaved round by round inside each run (tests/timekeeper/meet_rounds.py).
For each run, plain and emulated, prints the median round duration per placement (wall time when
plain, virtual time when emulated) and how far pinned is from side by side.

    python benchmarks/timekeeper_contention.py [--reps 5] [--rounds 30]
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROUNDS = ROOT / "tests" / "timekeeper" / "meet_rounds.py"


def run(emulated: bool, rounds: int) -> dict[str, dict[str, float]]:
    cmd = [sys.executable, str(ROUNDS), str(rounds)]
    if emulated:
        cmd = [sys.executable, "-m", "revati_search.cli", "run", "--", *cmd]
    out = json.loads(subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1])
    return {placement: {k: statistics.median(r[k] for r in rs) for k in ("virtual", "a_cpu", "b_cpu")}
            for placement, rs in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=30, help="rounds per placement in each run")
    a = ap.parse_args()
    print("median per round, ms: the meeting (wall time plain, virtual time emulated), A's and B's CPU time")
    diffs: dict[str, list[float]] = {"plain": [], "emulated": []}
    for rep in range(a.reps):
        for mode in ("plain", "emulated"):
            m = run(mode == "emulated", a.rounds)
            two, one = m["two cores"], m["one core"]
            d = 100 * (one["virtual"] - two["virtual"]) / two["virtual"]
            diffs[mode].append(d)
            print(f"{rep + 1} {mode:9} two cores {two['virtual'] * 1e3:6.1f} (A {two['a_cpu'] * 1e3:5.1f}, "
                  f"B {two['b_cpu'] * 1e3:5.1f})  one core {one['virtual'] * 1e3:6.1f} (A {one['a_cpu'] * 1e3:5.1f}, "
                  f"B {one['b_cpu'] * 1e3:5.1f})  pinned vs side by side {d:+.1f}%")
    for mode, ds in diffs.items():
        print(f"{mode}: pinned vs side by side, median over runs {statistics.median(ds):+.1f}% "
              f"(range {min(ds):+.1f}% .. {max(ds):+.1f}%)")


if __name__ == "__main__":
    main()
