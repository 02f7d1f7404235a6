"""Which CPU scale makes the emulation serve as fast as each real host did:
`python benchmarks/host_scale.py EMU_LOW:SCALE EMU_HIGH:SCALE REAL_DIR... [--metric median_tpot_ms]`.

EMU_LOW and EMU_HIGH are two emulated passes of the same run files at two `--cpu-scale` values
(benchmarks/validation_emulated.sh with ARGS="--cpu-scale S"); each REAL_DIR is one real call (one
host) of benchmarks/validation_real.sh. For every scenario both passes and a real call have, the
metric is taken as linear in the scale between the two passes and solved for the real value: the
scale at which this emulation host's CPU time, scaled, reproduces that host's run. A scenario whose
metric hardly moves with the scale (GPU-bound) says little about the host and is marked so
(`flat`: its two passes differ by less than 5%). Prints one row per scenario with the implied scale
per host, then per real call the median over the scenarios that are not flat, and over all: the median of
the pairs and the median of the calls' medians (each host counted once per call).
"""
from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from validation_table import load as summaries   # the folders' summary.json per scenario, as the table reads them

FLAT = 0.05   # relative change between the passes below which a scenario does not measure the host


def implied(low: float, high: float, s_low: float, s_high: float, real: float) -> float:
    """The scale at which the line through (s_low, low) and (s_high, high) reaches real."""
    return s_low + (real - low) * (s_high - s_low) / (high - low)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("low", help="EMU_DIR:SCALE (the lower scale)")
    ap.add_argument("high", help="EMU_DIR:SCALE (the higher scale)")
    ap.add_argument("real", nargs="+", type=Path, help="real calls' folders, one host each")
    ap.add_argument("--metric", default="median_tpot_ms")
    a = ap.parse_args(argv)
    (d_low, s_low), (d_high, s_high) = ((Path(x.rsplit(":", 1)[0]), float(x.rsplit(":", 1)[1])) for x in (a.low, a.high))
    low, high = summaries(d_low), summaries(d_high)
    reals = {d.name: summaries(d) for d in a.real}
    m = a.metric
    print(f"{m}: scale implied per scenario and real call (emulated {s_low:g} -> {s_high:g})\n")
    print(f"{'scenario':32s} {'emu@low':>9s} {'emu@high':>9s}  " + "  ".join(f"{h[-18:]:>18s}" for h in reals))
    per_host: dict[str, list[float]] = {h: [] for h in reals}
    for name in sorted(set(low) & set(high)):
        lo, hi = low[name].get(m), high[name].get(m)
        if lo is None or hi is None:
            continue
        flat = abs(hi - lo) / lo < FLAT
        cells = []
        for h, runs in reals.items():
            r = runs.get(name, {}).get(m)
            if r is None:
                cells.append(f"{'-':>18s}")
                continue
            s = implied(lo, hi, s_low, s_high, r)
            cells.append(f"{r:9.1f} -> {s:5.2f}{'*' if flat else ' '}")
            if not flat:
                per_host[h].append(s)
        print(f"{name:32s} {lo:9.1f} {hi:9.1f}  " + "  ".join(cells))
    print("\n* flat: the metric moves < 5% between the passes (GPU-bound); left out of the medians\n")
    every, per_call = [], []
    for h, v in per_host.items():
        if v:
            every += v
            per_call.append(statistics.median(v))
            print(f"{h:40s} median scale {statistics.median(v):5.2f} over {len(v)} scenarios "
                  f"(range {min(v):.2f}-{max(v):.2f})")
    if every:
        print(f"{'all real calls':40s} median scale {statistics.median(every):5.2f} over {len(every)} (scenario, host) pairs; "
              f"median of the calls' medians {statistics.median(per_call):5.2f} ({len(per_call)} calls)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
