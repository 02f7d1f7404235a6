"""Real vs emulated, per validation scenario: `python benchmarks/validation_table.py [--pool] [--only REGEX] [REAL_DIR EMU_DIR]`.

REAL_DIR (and EMU_DIR) may be several folders joined by commas: a scenario is taken from the first that
has it; with --pool, from all that have it: each metric is then the median of the scenario's runs, and
the ordering check also counts the swaps among the pairs the real runs decide (every real run of one
scenario above every real run of the other), since pairs whose real runs overlap have no real order.

Reads REAL_DIR/<scenario>/summary.json (from `revati-search emulate RUN --real`, see
benchmarks/validation_real.sh) and EMU_DIR/<scenario>/summary.json (the same run file emulated on a
virtual H100), prints each metric's real and emulated value and the relative error
(emulated/real - 1), the median |error| over the scenarios that have both, and for each metric whether
sorting the scenarios by it gives the same order in both (else the pairs of scenarios that swap, each
with its real values and how far apart they are: |a - b| / min(a, b)). Only pairs that exist.
--only REGEX keeps the scenarios whose names it matches (re.search). With --pool it also lists, per
metric, the scenarios whose error has one sign against every real run alone (the model's error, not
the real hosts' spread).
"""
from __future__ import annotations

import json
import re
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent / "validation"
METRICS = ("output_throughput", "median_ttft_ms", "median_tpot_ms", "median_e2el_ms")


def load(d: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in sorted(d.glob("*/summary.json"))}


def load_all(dirs: list[Path]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for d in dirs:
        for n, s in load(d).items():
            out.setdefault(n, []).append(s)
    return dict(sorted(out.items()))


def decided(runs_a: list[dict], runs_b: list[dict], m: str) -> bool:
    """Whether the real runs order two scenarios by m: every run of one above every run of the other."""
    ra, rb = [r[m] for r in runs_a if m in r], [r[m] for r in runs_b if m in r]
    return max(ra) < min(rb) or max(rb) < min(ra)


def pooled(runs: list[dict]) -> dict:
    """Each metric's median over the runs that have it."""
    return {m: statistics.median(v) for m in METRICS if (v := [r[m] for r in runs if r.get(m) is not None])}


def gap(a: float, b: float) -> float:
    return abs(a - b) / min(abs(a), abs(b))


def main(argv: list[str]) -> int:
    pool = "--pool" in argv
    argv = [a for a in argv if a != "--pool"]
    only = None
    if "--only" in argv:
        i = argv.index("--only")
        only = re.compile(argv[i + 1])
        del argv[i:i + 2]
    real_dirs = [Path(x) for x in argv[0].split(",")] if argv else [HERE / "real-h100-2026-11-21"]
    emu_dirs = [Path(x) for x in argv[1].split(",")] if len(argv) > 1 else [HERE / "emulated-2026-11-21"]
    real_runs, emu_runs = load_all(real_dirs), load_all(emu_dirs)
    pick = pooled if pool else (lambda runs: runs[0])
    real = {n: pick(rs) for n, rs in real_runs.items()}
    emu = {n: pick(rs) for n, rs in emu_runs.items()}
    if only is not None:
        real = {n: v for n, v in real.items() if only.search(n)}
    pairs = [n for n in real if n in emu]
    print(f"real: {','.join(map(str, real_dirs))}  ({len(real)} scenarios)\n"
          f"emulated: {','.join(map(str, emu_dirs))}  ({len(emu)} scenarios)\n"
          f"pairs: {len(pairs)}; missing emulation: {', '.join(n for n in real if n not in emu) or '-'}")
    if pool:
        print("pooled: medians of " + ", ".join(f"{n} {len(real_runs[n])} real/{len(emu_runs[n])} emulated"
                                                 for n in pairs))
    print()
    errs: dict[str, list[float]] = {m: [] for m in METRICS}
    w = max([24, *map(len, pairs)])
    print(f"{'scenario':{w}s} {'metric':18s} {'real':>10s} {'emulated':>10s} {'error':>8s}")
    for n in pairs:
        for m in METRICS:
            r, e = real[n].get(m), emu[n].get(m)
            if r is None or e is None or not r:
                continue
            err = e / r - 1
            errs[m].append(err)
            print(f"{n:{w}s} {m:18s} {r:10.2f} {e:10.2f} {err:+8.1%}")
    print("\nmedian |error| over scenarios:")
    for m in METRICS:
        v = errs[m]
        print(f"  {m:18s} " + (f"{statistics.median(abs(x) for x in v):7.1%}  (n={len(v)})" if v else "   -"))
    if pool:
        # against each real run alone: an error of one sign against every run (host) is the model's;
        # one whose sign turns between runs lies within the real runs' spread
        print("\nagainst each real run alone (pooled emulation): scenarios whose error has one sign against all")
        for m in METRICS:
            one_sign, spread = [], []
            for n in pairs:
                e = emu[n].get(m)
                each = [e / r[m] - 1 for r in real_runs[n] if r.get(m) and e is not None]
                if len(each) < 2:
                    continue
                (one_sign if min(each) > 0 or max(each) < 0 else spread).append((n, min(each), max(each)))
            print(f"  {m:18s} {len(one_sign)} of {len(one_sign) + len(spread)}: " + ", ".join(
                f"{n} {lo:+.0%}..{hi:+.0%}" for n, lo, hi in one_sign))
    print("\nordering (scenarios sorted by each metric, real vs emulated):")
    for m in METRICS:
        have = [n for n in pairs if real[n].get(m) is not None and emu[n].get(m) is not None]
        swapped = [(a, b) for i, a in enumerate(have) for b in have[i + 1:]
                   if (real[a][m] - real[b][m]) * (emu[a][m] - emu[b][m]) < 0]
        total = len(have) * (len(have) - 1) // 2
        same = "same order" if not swapped else f"{len(swapped)} of {total} pairs swapped: " + ", ".join(
            f"{a}/{b} (real {real[a][m]:.1f} vs {real[b][m]:.1f}, {gap(real[a][m], real[b][m]):.1%} apart;"
            f" emulated {emu[a][m]:.1f} vs {emu[b][m]:.1f})" for a, b in swapped)
        print(f"  {m:18s} {same}")
        if pool:
            dec = [(a, b) for i, a in enumerate(have) for b in have[i + 1:] if decided(real_runs[a], real_runs[b], m)]
            bad = [(a, b) for a, b in swapped if decided(real_runs[a], real_runs[b], m)]
            print(f"  {'':18s} of the {len(dec)} pairs the real runs decide: " +
                  ("all in the real order" if not bad else f"{len(bad)} swapped: " + ", ".join(f"{a}/{b}" for a, b in bad)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
