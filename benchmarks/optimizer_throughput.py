"""Trials per hour of `revati-search optimize` on this machine, with 1 and 2 parallel trials.

Runs the quickstart study (real emulated trials: Llama-3.2-1B shapes on a virtual H100, 48 requests)
from scratch for each setting, each in a fresh storage, and prints the wall time of the whole
command (Ray start-up included) and trials per hour.

    python benchmarks/optimizer_throughput.py [--trials 6] [--parallel 1,2] [--study studies/quickstart.yaml]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna

from revati_search import study

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=6)
    ap.add_argument("--parallel", default="1,2")
    ap.add_argument("--study", default=str(ROOT / "studies" / "quickstart.yaml"))
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} CPUs; study {args.study}; {args.trials} trials per setting")
    rows = []
    for p in [int(x) for x in args.parallel.split(",")]:
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            r = subprocess.run([sys.executable, "-m", "revati_search.cli", "optimize", args.study, "--out", tmp,
                                "--n-trials", str(args.trials), "--parallel", str(p)],
                               cwd=ROOT, capture_output=True, text=True)
            wall = time.perf_counter() - t
            if r.returncode != 0:
                sys.exit(f"parallel {p}: exit {r.returncode}\n{r.stderr[-3000:]}")
            st = optuna.load_study(study_name=study.load(Path(args.study)).name, storage=f"sqlite:///{tmp}/study.db")
            ts = [t for t in st.get_trials() if t.state.is_finished()]
            walls = [t.user_attrs["wall_s"] for t in ts if "wall_s" in t.user_attrs and "cached_from" not in t.user_attrs]
            cached = sum("cached_from" in t.user_attrs for t in ts)
        rows.append((p, len(ts), cached, wall, 3600 * len(ts) / wall, statistics.median(walls) if walls else float("nan")))
        print(f"parallel {p}: {len(ts)} trials ({cached} cached) in {wall:.0f} s -> {rows[-1][4]:.0f} trials/hour; "
              f"median emulation {rows[-1][5]:.1f} s", flush=True)


if __name__ == "__main__":
    main()
