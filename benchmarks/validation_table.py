"""Real vs emulated, per validation scenario: `python benchmarks/validation_table.py [REAL_DIR EMU_DIR]`.

REAL_DIR may be several folders joined by commas: a scenario is taken from the first that has it.

Reads REAL_DIR/<scenario>/summary.json (from `revati-search emulate RUN --real`, see
benchmarks/validation_real.sh) and EMU_DIR/<scenario>/summary.json (the same run file emulated on a
virtual H100), prints each metric's real and emulated value and the relative error
(emulated/real - 1), the median |error| over the scenarios that have both, and for each metric whether
sorting the scenarios by it gives the same order in both (else the pairs of scenarios that swap, each
with its real values and how far apart they are: |a - b| / min(a, b)). Only pairs that exist.
"""
from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent / "validation"
METRICS = ("output_throughput", "median_ttft_ms", "median_tpot_ms", "median_e2el_ms")


def load(d: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in sorted(d.glob("*/summary.json"))}


def load_first(dirs: list[Path]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for d in dirs:
        for n, s in load(d).items():
            out.setdefault(n, s)
    return dict(sorted(out.items()))


def gap(a: float, b: float) -> float:
    return abs(a - b) / min(abs(a), abs(b))


def main(argv: list[str]) -> int:
    real_dirs = [Path(x) for x in argv[0].split(",")] if argv else [HERE / "real-h100-2026-11-21"]
    real_dir = ",".join(map(str, real_dirs))
    emu_dir = Path(argv[1]) if len(argv) > 1 else HERE / "emulated-2026-11-21"
    real, emu = load_first(real_dirs), load(emu_dir)
    pairs = [n for n in real if n in emu]
    print(f"real: {real_dir}  ({len(real)} scenarios)\nemulated: {emu_dir}  ({len(emu)} scenarios)\n"
          f"pairs: {len(pairs)}; missing emulation: {', '.join(n for n in real if n not in emu) or '-'}\n")
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
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
