"""Engine steps seen from a run's requests.csv: `python benchmarks/validation_steps.py RUN_DIR... [--series]`.

Every generated token carries its time; the tokens of one engine step land within a few ms of each other
(they are handed out one request after the other), so token times closer than GAP_S form one step and
the time from one step's first token to the next step's first token is that step's duration. A step in
which no request got its first token is a "decode" step here (it may still carry part of a split
prompt); the others are "prefill" steps. Prints, per run, the number of steps, the duration median and
p10/p90 by kind, the mean number of tokens per step and a histogram of decode-step durations (10 ms
bins); with --series, every step: index, end time, duration, tokens, first tokens.
"""
from __future__ import annotations

import csv
import statistics
import sys
from collections import Counter
from pathlib import Path

from revati_search.metrics import open_requests

GAP_S = 0.003


def steps(path: Path) -> list[dict[str, float]]:
    events: list[tuple[float, bool]] = []
    with open_requests(path) as f:
        for row in csv.DictReader(f):
            times = row["token_times_s"].split()
            events += [(float(t), i == 0) for i, t in enumerate(times)]
    events.sort()
    out: list[dict[str, float]] = []
    for t, first in events:
        if not out or t - out[-1]["last"] > GAP_S:
            out.append({"start": t, "last": t, "tokens": 0, "first": 0})
        out[-1]["last"] = t
        out[-1]["tokens"] += 1
        out[-1]["first"] += first
    return out


def q(values: list[float], f: float) -> float:
    s = sorted(values)
    return s[int(f * (len(s) - 1))]


def main(argv: list[str]) -> int:
    series = "--series" in argv
    for d in (Path(a) for a in argv if a != "--series"):
        st = steps(d / "requests.csv")
        kinds: dict[str, list[float]] = {"prefill": [], "decode": []}
        rows = []
        for i, (a, b) in enumerate(zip(st, st[1:]), start=1):
            dur = (b["start"] - a["start"]) * 1e3
            kinds["prefill" if b["first"] else "decode"].append(dur)
            rows.append((i, b["start"], dur, b["tokens"], b["first"]))
        desc = "  ".join(f"{k} n={len(v)} median {statistics.median(v):.1f} ms (p10 {q(v, .1):.1f}, p90 {q(v, .9):.1f})"
                         for k, v in kinds.items() if v)
        print(f"{d}: {len(st)} steps, {statistics.mean(s['tokens'] for s in st):.1f} tokens/step; {desc}")
        hist = Counter(int(x // 10) * 10 for x in kinds["decode"])
        print("  decode-step durations (ms bin: steps): " + " ".join(f"{k}:{hist[k]}" for k in sorted(hist)))
        if series:
            for i, t, dur, tokens, first in rows:
                print(f"  {i:4d} t={t:7.3f} s  {dur:6.1f} ms  tokens {tokens:3d}  first {first}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
