"""prefill_first vs fifo, real and emulated (README.md here): `python benchmarks/prefill-first-ab/compare.py`.

Prints each run's summary metrics, the emulated runs' relative errors against the real ones, whether two
runs made the same engine steps (tokens and first tokens per step, from requests.csv through
benchmarks/validation_steps.py), the decode steps at the full batch of 48 split at 90 ms (the real runs'
two modes), the per-step series side by side, and the emulated cuDNN Finalize calls per 16 SDPA
executions (one step's 16 layers) from the --trace runs' api-*.json counts.
"""
from __future__ import annotations

import glob
import itertools
import json
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from validation_steps import steps  # noqa: E402

R, E = HERE / "real-h100-2026-11-21", HERE / "emulated-2026-11-21"
RUNS = {"real 1-pf": R / "1-pf", "real 2-fifo": R / "2-fifo", "real 3-pf": R / "3-pf",
        "emu pf": E / "pf", "emu fifo": E / "fifo"}
KEYS = ("output_throughput", "median_ttft_ms", "median_tpot_ms", "median_e2el_ms")
FULL, SPLIT_MS = 48, 90.0


def main() -> None:
    summ = {n: json.loads((p / "summary.json").read_text()) for n, p in RUNS.items()}
    st = {n: steps(p / "requests.csv") for n, p in RUNS.items()}
    print("summaries")
    for n, s in summ.items():
        print(f"  {n:12s}", "  ".join(f"{k} {s[k]:.1f}" for k in KEYS))
    print("emulated vs real")
    for e, r in [("emu pf", "real 1-pf"), ("emu pf", "real 3-pf"), ("emu fifo", "real 2-fifo")]:
        print(f"  {e} vs {r}:", "  ".join(f"{k} {100 * (summ[e][k] / summ[r][k] - 1):+.1f}%" for k in KEYS))
    print("same engine steps? (steps whose tokens or first tokens differ)")
    for a, b in itertools.combinations(RUNS, 2):
        x, y = [(s["tokens"], s["first"]) for s in st[a]], [(s["tokens"], s["first"]) for s in st[b]]
        diff = sum(1 for i in range(min(len(x), len(y))) if x[i] != y[i]) + abs(len(x) - len(y))
        print(f"  {a} / {b}: {len(x)} / {len(y)} steps, {diff} differ")
    print(f"decode steps at the full batch ({FULL} tokens, no first token), split at {SPLIT_MS:.0f} ms")
    for n, ss in st.items():
        d = [1000 * (ss[i + 1]["start"] - ss[i]["start"]) for i in range(len(ss) - 1)
             if ss[i + 1]["first"] == 0 and ss[i + 1]["tokens"] == FULL]
        fast, slow = [x for x in d if x < SPLIT_MS], [x for x in d if x >= SPLIT_MS]
        med = lambda v: f"{statistics.median(v):.1f}" if v else "-"  # noqa: E731
        print(f"  {n:12s} n={len(d)} median {med(d)} ms; fast n={len(fast)} median {med(fast)}; "
              f"slow n={len(slow)} median {med(slow)}")
    print("per step (ms; the duration of step i is from step i-1's tokens to step i's), real 2-fifo vs 3-pf")
    a, b = st["real 2-fifo"], st["real 3-pf"]
    for i in range(1, min(len(a), len(b))):
        print(f"  {i:4d} tokens {int(a[i]['tokens']):3d} first {int(a[i]['first'])}"
              f"  fifo {1000 * (a[i]['start'] - a[i - 1]['start']):6.1f}  pf {1000 * (b[i]['start'] - b[i - 1]['start']):6.1f}")
    print("emulated cuDNN Finalize calls per 16 SDPA executions (--trace runs)")
    for n in ("pf-trace", "fifo-trace"):
        for f in sorted(glob.glob(str(E / n / "api-*.json"))):
            c = {x["name"]: x["calls"] for x in json.loads(Path(f).read_text())["calls"] if "cudnn" in x["lib"]}
            fin, exe = c["cudnnBackendFinalize"], c["cudnnBackendExecute"]
            print(f"  {n}: Finalize {fin}, Execute {exe}: {16 * fin / exe:.1f}")


if __name__ == "__main__":
    main()
