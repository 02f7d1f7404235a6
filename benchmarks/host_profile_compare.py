"""Where a serving engine's generation thread spends its host time, two py-spy profiles side by side:
`python benchmarks/host_profile_compare.py A.collapsed[.gz] B.collapsed[.gz] [--min 1.0]`.

Reads py-spy's raw (collapsed) stacks, keeps the samples of transformers' generation loop, and prints
per function the share of those samples in which it is on the stack (inclusive) and on top (self),
A then B. py-spy samples wall time and leaves idle threads out; an emulated run's time waiting in
virtual time (GPU waits, modelled library host time) is therefore not in its samples.
"""
from __future__ import annotations

import argparse
import gzip
import re
from collections import Counter
from pathlib import Path

LOOP = "_run_generation_loop"


def load(path: Path) -> tuple[int, Counter[str], Counter[str]]:
    opener = gzip.open if path.suffix == ".gz" else open
    inclusive: Counter[str] = Counter()
    top: Counter[str] = Counter()
    n = 0
    with opener(path, "rt") as f:
        for line in f:
            stack, _, count = line.rstrip().rpartition(" ")
            if LOOP not in stack:
                continue
            frames = [re.sub(r"\(.*?(site-packages|python3[.\d]*)/", "(", re.sub(r":\d+\)", ")", fr))
                      for fr in stack.split(";") if not fr.startswith("process ")]
            n += int(count)
            for fr in set(frames):
                inclusive[fr] += int(count)
            top[frames[-1]] += int(count)
    return n, inclusive, top


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("a", type=Path)
    ap.add_argument("b", type=Path)
    ap.add_argument("--min", type=float, default=1.0, help="list functions above this share (%%) in either")
    args = ap.parse_args()
    (na, ia, ta), (nb, ib, tb) = load(args.a), load(args.b)
    print(f"samples in the generation loop: {na} / {nb}")
    for title, a, b in (("on the stack", ia, ib), ("on top (self)", ta, tb)):
        print(f"\n{title}: % of A, % of B, function")
        keys = {k for k in a if 100 * a[k] / na >= args.min} | {k for k in b if 100 * b[k] / nb >= args.min}
        for k in sorted(keys, key=lambda k: -a[k] / na):
            print(f"{100 * a[k] / na:6.1f} {100 * b[k] / nb:6.1f}  {k[:120]}")


if __name__ == "__main__":
    main()
